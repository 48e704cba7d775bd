"""``mlops-serve``: resolve ``models:/<name>@<alias>`` to a version, then exec ``mlflow models serve``.

Resolving first gives a clear wait-and-timeout when no model is registered yet, and pins
the pod to one concrete version (printed in the log) for its whole life; a newly promoted
champion reaches serving through a new process (a rollout restart on Kubernetes).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from requests.exceptions import RequestException

from serving.settings import InvalidSettings, parse
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

log = logging.getLogger("serving")


class ServeSettings(BaseSettings):
    """Which model to serve and how; flags or ``SERVE_*`` variables. The tracking server is MLFLOW_TRACKING_URI."""

    model_config = SettingsConfigDict(
        env_prefix="SERVE_", cli_prog_name="mlops-serve", cli_kebab_case=True, cli_hide_none_type=True
    )

    model_name: str = Field(..., min_length=1, description="registered model name")
    alias: str = Field("champion", min_length=1, description="registry alias to serve")
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(8080, ge=1, le=65535, description="port to listen on")
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    timeout: int = Field(60, ge=1, description="request timeout in seconds")
    wait_timeout: float = Field(300, ge=0, description="seconds to wait for the model to be registered")


class ModelNotFound(Exception):
    """Not registered yet (or no such alias yet): worth waiting for."""


class TrackingError(Exception):
    """The tracking server did not answer properly (down, restarting, overloaded): worth waiting for."""


REFUSED = ("UNAUTHENTICATED", "PERMISSION_DENIED")


def resolve_version(client: MlflowClient, name: str, alias: str, wait_timeout: float) -> str:
    """Version number behind ``name@alias``, polling until it exists or ``wait_timeout`` passes."""

    def lookup() -> str:
        try:
            model = client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ModelNotFound(f"registered model '{name}' does not exist") from exc
            if exc.error_code in REFUSED:  # waiting does not fix credentials
                raise SystemExit(f"error: the tracking server refused access to model '{name}': {exc.message}") from None
            raise TrackingError(f"tracking server error: {exc.message[:500]}") from exc
        if alias not in model.aliases:
            raise ModelNotFound(f"model '{name}' has no alias '{alias}' (aliases: {dict(model.aliases) or 'none'})")
        return model.aliases[alias]

    try:
        for attempt in Retrying(
            stop=stop_after_delay(wait_timeout),
            wait=wait_fixed(5),
            retry=retry_if_exception_type((ModelNotFound, TrackingError, RequestException)),
            before_sleep=lambda state: log.info("waiting for models:/%s@%s: %s", name, alias, state.outcome.exception()),
        ):
            with attempt:
                return lookup()
    except RetryError as exc:
        reason = exc.last_attempt.exception()
        raise SystemExit(f"error: no model to serve after {wait_timeout:.0f}s: {reason}") from None
    raise AssertionError("unreachable")


def serve_command(settings: ServeSettings, model_uri: str) -> list[str]:
    return [
        "mlflow", "models", "serve",
        "--model-uri", model_uri,
        "--env-manager", "local",  # the image already has every requirement; no network at start
        "--host", settings.host,
        "--port", str(settings.port),
        "--workers", str(settings.workers),
        "--timeout", str(settings.timeout),
    ]  # fmt: skip


def _exit_config_error(message: str) -> NoReturn:
    print(f"mlops-serve: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        settings = parse(ServeSettings, argv)
    except InvalidSettings as exc:
        _exit_config_error(str(exc))
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        _exit_config_error("MLFLOW_TRACKING_URI is not set; point it at the tracking server, e.g. http://127.0.0.1:5000")
    client = MlflowClient()
    version = resolve_version(client, settings.model_name, settings.alias, settings.wait_timeout)
    model_uri = f"models:/{settings.model_name}/{version}"
    log.info("serving %s@%s = %s on %s:%d", settings.model_name, settings.alias, model_uri, settings.host, settings.port)
    # mlflow starts uvicorn by name: make sure this interpreter's scripts directory is on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command = serve_command(settings, model_uri)
    os.execvp(command[0], command)
