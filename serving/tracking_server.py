"""``mlops-tracking-server``: wait for the database, ``mlflow db upgrade``, then exec ``mlflow server``.

The backend store is PostgreSQL (built from ``TRACKING_DB_*``, credentials percent-encoded)
or any URI in ``TRACKING_BACKEND_STORE_URI`` (SQLite for local use). Artifacts are proxied:
clients talk only to this server, which writes to ``TRACKING_ARTIFACTS_DESTINATION``
(an s3:// bucket, with MLFLOW_S3_ENDPOINT_URL and AWS_* credentials taken from the environment).
Secrets reach ``mlflow server`` through its environment, never its command line.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import sqlalchemy
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from serving.settings import InvalidSettings, parse

log = logging.getLogger("tracking-server")


class TrackingSettings(BaseSettings):
    """Tracking server settings; flags or ``TRACKING_*`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKING_",
        cli_prog_name="mlops-tracking-server",
        cli_kebab_case=True,
        cli_hide_none_type=True,
        cli_implicit_flags=True,
    )

    backend_store_uri: SecretStr | None = Field(None, description="full store URI; overrides the DB_* settings")
    db_host: str | None = Field(None, description="PostgreSQL host")
    db_port: int = Field(5432, description="PostgreSQL port")
    db_name: str = Field("mlflow", description="PostgreSQL database")
    db_user: str | None = Field(None, description="PostgreSQL user")
    db_password: SecretStr | None = Field(None, description="PostgreSQL password")
    db_wait_timeout: float = Field(120, ge=0, description="seconds to wait for the database")
    artifacts_destination: str = Field(..., min_length=1, description="where proxied artifacts go, e.g. s3://mlflow")
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(5000, ge=1, le=65535)
    workers: int = Field(2, ge=1, description="server worker processes")
    allowed_hosts: str | None = Field(None, description="comma list of accepted Host headers (MLflow >= 3.5)")
    metrics_dir: Path | None = Field(None, description="writable directory; enables Prometheus /metrics")
    auth: bool = Field(False, description="enable MLflow basic auth (reads MLFLOW_AUTH_CONFIG_PATH)")

    @model_validator(mode="after")
    def _store_configured(self) -> TrackingSettings:
        if self.backend_store_uri is None and not (self.db_host and self.db_user and self.db_password):
            raise ValueError(
                "set TRACKING_BACKEND_STORE_URI, or TRACKING_DB_HOST, TRACKING_DB_USER and TRACKING_DB_PASSWORD"
            )
        return self

    def store_uri(self) -> str:
        if self.backend_store_uri is not None:
            return self.backend_store_uri.get_secret_value()
        url = sqlalchemy.engine.URL.create(
            "postgresql+psycopg2",
            username=self.db_user,
            password=self.db_password.get_secret_value() if self.db_password else None,
            host=self.db_host,
            port=self.db_port,
            database=self.db_name,
        )
        return url.render_as_string(hide_password=False)  # percent-encodes user and password


def wait_for_database(uri: str, timeout: float) -> None:
    engine = sqlalchemy.create_engine(uri, pool_pre_ping=True)
    try:
        for attempt in Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.5, max=5),
            retry=retry_if_exception_type(sqlalchemy.exc.OperationalError),
            before_sleep=lambda state: log.info("waiting for the database: %s", _first_line(state.outcome.exception())),
            reraise=True,
        ):
            with attempt, engine.connect():
                pass
    except sqlalchemy.exc.OperationalError as exc:
        raise SystemExit(f"error: database unreachable after {timeout:.0f}s: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException | None) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if exc else ""


def upgrade_database(uri: str) -> None:
    """``mlflow db upgrade``, run in-process so the URI (with its password) stays off the command line."""
    from mlflow.db import upgrade

    upgrade.main(args=[uri], standalone_mode=False)


def server_command(settings: TrackingSettings) -> list[str]:
    command = ["mlflow", "server", "--host", settings.host, "--port", str(settings.port)]
    command += ["--workers", str(settings.workers), "--serve-artifacts"]
    command += ["--artifacts-destination", settings.artifacts_destination]
    if settings.allowed_hosts:
        command += ["--allowed-hosts", settings.allowed_hosts]
    if settings.metrics_dir:
        command += ["--expose-prometheus", str(settings.metrics_dir)]
    if settings.auth:
        command += ["--app-name", "basic-auth"]
    return command


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        settings = parse(TrackingSettings, argv)
    except InvalidSettings as exc:
        raise SystemExit(f"error: {exc}") from None
    uri = settings.store_uri()
    if uri.startswith("postgresql"):
        wait_for_database(uri, settings.db_wait_timeout)
    log.info("upgrading the database schema")
    upgrade_database(uri)
    if settings.metrics_dir:
        settings.metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_BACKEND_STORE_URI"] = uri
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command = server_command(settings)
    log.info("starting: %s", " ".join(command))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
