"""Real PostgreSQL, MinIO and MLflow processes for the tests, each on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from serving.processes import ServiceFailed, free_port, process, wait_http

REPO = Path(__file__).resolve().parents[1]
TOOLS_DIR = Path(os.environ.get("TOOLS_DIR", Path.home() / ".cache" / "pycaret-mlops" / "tools"))


def require_binary(name: str, candidates: list[Path]) -> str:
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ServiceFailed(f"{name} not found (looked in {', '.join(map(str, candidates))} and PATH); run `make tools`")


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str


@contextlib.contextmanager
def postgres(password: str) -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl); runs as the ``postgres`` user when we are root.

    It lives in its own directory under /tmp: pytest's temporary directories are private to root.
    """
    bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip() or "/usr/bin")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin")) + [bindir]
    initdb = require_binary("initdb", [d / "initdb" for d in reversed(candidates)])
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    workdir = Path(tempfile.mkdtemp(prefix="mlops-postgres-"))
    datadir, pwfile, log = workdir / "data", workdir / "pwfile", workdir / "postgres.log"
    pwfile.write_text(password + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        owner = pwd.getpwnam("postgres")
        for path in (workdir, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    user, port = "mlops", free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(datadir), "-U", user, f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(datadir), "-o", options, "-l", str(log), "-w", "start"], check=True, capture_output=True)
    try:
        server = Postgres("127.0.0.1", port, user, password, "mlflow")
        env = {**os.environ, "PGPASSWORD": password}
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, "mlflow"], check=True, env=env, capture_output=True)
        yield server
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Minio:
    endpoint: str
    access_key: str
    secret_key: str
    datadir: Path

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key
        )

    @property
    def env(self) -> dict[str, str]:
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }


def minio_binary() -> str:
    if os.environ.get("MINIO_BIN"):
        return os.environ["MINIO_BIN"]
    version = os.environ.get("MINIO_VERSION")
    if not version and not shutil.which("minio"):  # the Makefile pins and exports it
        raise ServiceFailed("MINIO_VERSION is not set: run the tests through `make test`/`make test-core` (or set MINIO_BIN)")
    return require_binary("minio", [TOOLS_DIR / f"minio-{version}" / "minio"])


@contextlib.contextmanager
def minio(workdir: Path) -> Iterator[Minio]:
    """A real MinIO server (the binary `make tools` builds from source) on loopback."""
    binary = minio_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    port, console = free_port(), free_port()
    server = Minio(f"http://127.0.0.1:{port}", "mlops-test", "minio-secret-123", workdir / "data")
    env = {"MINIO_ROOT_USER": server.access_key, "MINIO_ROOT_PASSWORD": server.secret_key, "MINIO_BROWSER": "off"}
    command = [binary, "server", str(server.datadir), "--address", f"127.0.0.1:{port}", "--console-address", f"127.0.0.1:{console}"]
    log = workdir / "minio.log"
    with process(command, log, env=env) as proc:
        wait_http(f"{server.endpoint}/minio/health/ready", 60, proc, log)
        yield server


@contextlib.contextmanager
def tracking_server(workdir: Path, env: Mapping[str, str]) -> Iterator[str]:
    """``mlops-tracking-server`` (our launcher: db upgrade + mlflow server) with the given TRACKING_* env."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "tracking-server.log"
    command = [sys.executable, "-m", "serving.tracking_server", "--port", str(port), "--workers", "1"]
    with process(command, log, env=env, cwd=REPO) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", 120, proc, log)
        yield url


@contextlib.contextmanager
def model_server(workdir: Path, tracking_uri: str, model_name: str, alias: str = "champion") -> Iterator[str]:
    """``mlops-serve``: a real ``mlflow models serve`` for ``models:/<name>@<alias>``."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"model-server-{model_name}.log"
    command = [sys.executable, "-m", "serving", "--model-name", model_name, "--alias", alias, "--port", str(port)]
    with process(command, log, env={"MLFLOW_TRACKING_URI": tracking_uri}, cwd=REPO) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/ping", 180, proc, log)
        yield url


def serve_until_it_gives_up(model_name: str, wait_timeout: int = 1, **env: str) -> subprocess.CompletedProcess:
    """Runs mlops-serve for ``model_name`` with only ``env``; it must give up by itself."""
    return subprocess.run(
        [sys.executable, "-m", "serving", "--model-name", model_name, "--wait-timeout", str(wait_timeout)],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
