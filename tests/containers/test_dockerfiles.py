"""Static checks of docker/*.Dockerfile: the conventions every image follows (no Docker needed)."""

from __future__ import annotations

import re

import pytest

from tests.containers.dockerctl import IMAGE_NAMES, REPO

pytestmark = pytest.mark.containers

DOCKER_DIR = REPO / "docker"


def dockerfile(name: str) -> str:
    return (DOCKER_DIR / f"{name}.Dockerfile").read_text()


def instructions(text: str) -> list[str]:
    """Instructions without comments, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def test_one_dockerfile_per_image() -> None:
    assert sorted(p.name for p in DOCKER_DIR.glob("*.Dockerfile")) == sorted(f"{n}.Dockerfile" for n in IMAGE_NAMES)


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_conventions(name: str) -> None:
    lines = instructions(dockerfile(name))
    base_arg = "ARG GO_IMAGE=golang:" if name == "minio" else "ARG PYTHON_IMAGE=python:3.11-slim-bookworm"
    assert lines[0].startswith(base_arg), lines[0]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage: build stage(s) plus a slim runtime stage"
    final = lines[lines.index(froms[-1]):]
    for line in final:
        assert not re.search(r"\b(gcc|g\+\+|clang|build-essential|make|go (build|install))\b|-dev\b", line), (
            f"the runtime stage installs no compilers or headers: {line}"
        )
        if "apt-get install" in line:
            assert "--no-install-recommends" in line and "rm -rf /var/lib/apt/lists/*" in line, line
    users = [line for line in final if line.startswith("USER ")]
    assert users and re.fullmatch(r"USER [1-9][0-9]*:[1-9][0-9]*", users[-1]), users
    assert any(line.startswith("LABEL org.opencontainers.image.title=") for line in final)
    assert any("docker/ca/" in line for line in lines), "every image takes the optional extra CA certificates"
    if name != "minio":
        assert any("-c requirements.lock" in line for line in lines), "installs use the lock file"
        # Whatever pip resolves (anything but a --no-deps install of our own wheel) is constrained by the lock.
        for part in (p for line in lines for p in line.split("&&")):
            if re.search(r"pip (install|wheel)", part) and "--no-deps" not in part:
                assert "-c requirements.lock" in part, part


def test_trainer_and_model_server_share_their_layers() -> None:
    """Byte-identical up to the marker, so Docker builds those layers once for both images."""

    def shared(name: str) -> list[str]:
        text = dockerfile(name)
        start = text.index("ARG PYTHON_IMAGE=")
        end = text.index("# ---------------------------------------------- end of the part shared")
        return instructions(text[start:end])

    assert shared("trainer") == shared("model-server")
