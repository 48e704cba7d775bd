"""Session-wide real services: PostgreSQL, MinIO, and an MLflow tracking server using both."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services

# A password that needs percent-encoding in the store URI, to prove the launcher does it.
DB_PASSWORD = "p@ss:w/rd%#?&"
BUCKET = "mlflow"


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    with services.postgres(DB_PASSWORD) as server:
        yield server


@pytest.fixture(scope="session")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Minio]:
    with services.minio(tmp_path_factory.mktemp("minio")) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="session")
def tracking_env(postgres: services.Postgres, minio: services.Minio) -> dict[str, str]:
    """The environment of a tracking server on PostgreSQL with artifacts proxied into MinIO."""
    return {
        "TRACKING_DB_HOST": postgres.host,
        "TRACKING_DB_PORT": str(postgres.port),
        "TRACKING_DB_NAME": postgres.database,
        "TRACKING_DB_USER": postgres.user,
        "TRACKING_DB_PASSWORD": postgres.password,
        "TRACKING_ARTIFACTS_DESTINATION": f"s3://{BUCKET}/artifacts",
        **minio.env,
    }


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory, tracking_env: dict[str, str]) -> Iterator[str]:
    with services.tracking_server(tmp_path_factory.mktemp("tracking"), tracking_env) as url:
        yield url


@pytest.fixture
def tracking_uri(tracking_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points this test's MLflow client at the session tracking server; the client has no S3 credentials."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    for name in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tracking_server


@pytest.fixture
def model_name() -> str:
    return f"model-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared real datasets (insurance, juice), given by MLOPS_DATASETS_DIR."""
    value = os.environ.get("MLOPS_DATASETS_DIR")
    if value and Path(value, "insurance.csv").is_file():
        return Path(value)
    message = f"MLOPS_DATASETS_DIR={value!r} does not hold insurance.csv and juice.csv"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
