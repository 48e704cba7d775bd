"""Fixtures for the container tests: the images `make images` builds, run against the real
PostgreSQL and MinIO of tests/conftest.py (containers use --network host to reach them).

Missing Docker or images make these tests fail, never skip. When an image is missing the
session builds all of them once with `make -f docker/images.mk images` (set
MLOPS_BUILD_IMAGES=0 to fail instead); `make test` normally builds them first.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from serving.processes import free_port
from tests.containers import dockerctl
from tests.containers.dockerctl import Container

TRACKING_READY_SECONDS = 180
TRAIN_SECONDS = 900


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "containers: runs the real container images (needs Docker and `make images`)")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = dockerctl.engine_problem()
    if problem:
        pytest.fail(f"{problem}\nStart one with `bash tests/infra/docker.sh`.", pytrace=False)


@pytest.fixture(scope="session")
def images(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{"tracking-server": "pycaret-mlops/tracking-server:<tag>", ...}``, every one present."""
    refs = dockerctl.image_refs()
    missing = [ref for ref in refs.values() if not dockerctl.image_exists(ref)]
    if missing and os.environ.get("MLOPS_BUILD_IMAGES", "1") != "0":
        log = tmp_path_factory.mktemp("images") / "make-images.log"
        proc = dockerctl.make_images("images", log=log)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            pytest.fail(f"`make -f docker/images.mk images` failed ({proc.returncode}):\n{tail}", pytrace=False)
        missing = [ref for ref in refs.values() if not dockerctl.image_exists(ref)]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)}; build them with `make images`", pytrace=False)
    return refs


@pytest.fixture(scope="session")
def container_database(postgres) -> dict[str, str]:
    """A database of its own on the session PostgreSQL, so the containers migrate a fresh schema."""
    name = f"mlflow_containers_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(
        host=postgres.host, port=postgres.port, user=postgres.user, password=postgres.password, dbname=postgres.database
    )
    conn.autocommit = True  # CREATE DATABASE refuses a transaction (and `with conn` would open one)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return {
        "TRACKING_DB_HOST": postgres.host,
        "TRACKING_DB_PORT": str(postgres.port),
        "TRACKING_DB_NAME": name,
        "TRACKING_DB_USER": postgres.user,
        "TRACKING_DB_PASSWORD": postgres.password,
    }


@pytest.fixture(scope="session")
def container_bucket(minio) -> str:
    bucket = f"containers-{uuid.uuid4().hex[:8]}"
    minio.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(scope="session")
def tracking_container(images, container_database, container_bucket, minio) -> Iterator[tuple[Container, str]]:
    """The tracking-server image on PostgreSQL + MinIO; yields (container, http://127.0.0.1:<port>)."""
    port = free_port()
    env = {
        **container_database,
        **minio.env,
        "TRACKING_ARTIFACTS_DESTINATION": f"s3://{container_bucket}/artifacts",
        "TRACKING_HOST": "127.0.0.1",
        "TRACKING_PORT": str(port),
        "TRACKING_WORKERS": "1",
    }
    # The image's own HEALTHCHECK command, polled every 2 s instead of 15 s.
    options = ("--read-only", "--tmpfs", "/tmp", "--health-interval", "2s", "--health-start-period", "5s")
    container = dockerctl.run_detached(images["tracking-server"], "tracking", env, options=options)
    try:
        try:
            container.wait_healthy(TRACKING_READY_SECONDS)
        except dockerctl.DockerError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield container, f"http://127.0.0.1:{port}"
    finally:
        container.remove()


@pytest.fixture(scope="session")
def container_tracking_uri(tracking_container) -> str:
    return tracking_container[1]


@pytest.fixture(scope="session")
def trained_model(images, container_tracking_uri) -> dict:
    """Runs the trainer image once (small fast config); yields what it registered."""
    name = f"containers-{uuid.uuid4().hex[:8]}"
    env = {
        "MLFLOW_TRACKING_URI": container_tracking_uri,
        "TRAIN_DATA": "sklearn:breast_cancer",
        "TRAIN_MODELS": "lr,dt",
        "TRAIN_FOLDS": "3",
        "TRAIN_MODEL_NAME": name,
        "TRAIN_EXPERIMENT": "containers",
    }
    started = time.monotonic()
    proc = dockerctl.run_once(
        images["trainer"], env, options=("--read-only", "--tmpfs", "/tmp"), timeout=TRAIN_SECONDS
    )
    return {
        "name": name,
        "returncode": proc.returncode,
        "output": proc.stdout + proc.stderr,
        "seconds": time.monotonic() - started,
    }
