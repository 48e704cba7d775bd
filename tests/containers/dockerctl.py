"""A thin layer over the ``docker`` CLI for the container tests (no SDK: the CLI is what users run)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE_NAMES = ("tracking-server", "trainer", "model-server", "minio")
TEST_LABEL = "pycaret-mlops.test=containers"
DOCKER = os.environ.get("DOCKER", "docker")


class DockerError(RuntimeError):
    pass


def docker(*args: str, check: bool = True, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``docker ARGS``; raises DockerError with the command's output when ``check`` and it fails."""
    proc = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, input=input, stdin=None if input else subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}".strip())
    return proc


def engine_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        proc = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"no Docker engine answers `docker info`: {(proc.stderr or proc.stdout).strip()[:500]}"
    return None


def make_images(*targets: str, log: Path | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    """``make -f docker/images.mk TARGETS`` from the repo root (standalone: no root Makefile needed)."""
    command = ["make", "--no-print-directory", "-s", "-f", "docker/images.mk", *targets]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if log is None:
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, check=True)
    with log.open("w") as out:
        return subprocess.run(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env)


def image_refs() -> dict[str, str]:
    """Image name -> ``pycaret-mlops/<name>:<tag>`` as `make images` tags them."""
    lines = make_images("print-images").stdout.split()
    refs = {line.split("/", 1)[1].split(":", 1)[0]: line for line in lines}
    if set(refs) != set(IMAGE_NAMES):
        raise DockerError(f"docker/images.mk print-images gave {lines}, expected one image for each of {IMAGE_NAMES}")
    return refs


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def inspect(ref_or_id: str, kind: str = "container") -> dict:
    return json.loads(docker(kind, "inspect", ref_or_id).stdout)[0]


def env_args(env: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return args


@dataclass
class Container:
    """A detached container; ``remove()`` stops and deletes it (idempotent)."""

    name: str
    image: str
    started_at: float = field(default_factory=time.monotonic)

    def logs(self, tail: int = 80) -> str:
        proc = docker("logs", "--tail", str(tail), self.name, check=False)
        return (proc.stdout + proc.stderr).strip()

    def state(self) -> dict:
        return inspect(self.name)["State"]

    def health(self) -> str | None:
        health = self.state().get("Health")
        return health["Status"] if health else None

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return docker("exec", self.name, *command, check=check)

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until Docker reports the image's HEALTHCHECK as healthy; fails with the logs otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if not state["Running"]:
                raise DockerError(f"{self.name} exited with {state['ExitCode']}:\n{self.logs()}")
            if state.get("Health", {}).get("Status") == "healthy":
                return time.monotonic() - self.started_at
            time.sleep(0.5)
        log = self.state().get("Health", {}).get("Log", [])[-3:]
        raise DockerError(f"{self.name} not healthy after {timeout:.0f}s; last checks {log}\n{self.logs()}")

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False, timeout=60)


def run_detached(image: str, purpose: str, env: dict[str, str], *args: str, options: tuple[str, ...] = ()) -> Container:
    """``docker run -d --network host`` (the tests' PostgreSQL and MinIO listen on loopback)."""
    name = f"mlops-test-{purpose}-{uuid.uuid4().hex[:8]}"
    container = Container(name, image)
    docker(
        "run", "-d", "--name", name, "--label", TEST_LABEL, "--network", "host",
        *options, *env_args(env), image, *args,
    )  # fmt: skip
    return container


def run_once(image: str, env: dict[str, str], *args: str, options: tuple[str, ...] = (), timeout: float = 120) -> subprocess.CompletedProcess:
    """``docker run --rm`` to completion; returns the finished process (any exit code)."""
    return docker(
        "run", "--rm", "--label", TEST_LABEL, "--network", "host", *options, *env_args(env), image, *args,
        check=False, timeout=timeout,
    )  # fmt: skip


def post_invocations(url: str, body: dict | str, content_type: str = "application/json", timeout: float = 30):
    """POST to a model server's /invocations (a dict is sent as JSON)."""
    import requests

    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(f"{url}/invocations", data=data, headers={"Content-Type": content_type}, timeout=timeout)
