"""Everything the trainer writes to MLflow, through the MLflow API (not PyCaret's logger)."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import requests
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from training.errors import TrackingUnavailable
from training.experiment import Outcome
from training.metrics import Task, metric_key

log = logging.getLogger(__name__)

# Distributions a served PyCaret pipeline needs besides the estimator's own package.
BASE_REQUIREMENTS = ("mlflow", "pycaret", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")


def wait_for_tracking_server(uri: str, timeout: float) -> None:
    """Block until an http(s) tracking server answers /health and its artifact store answers too.

    A server proxying artifacts is healthy before its S3 store is (a bucket not yet created, a
    MinIO pod not yet scheduled); checking the store first keeps a long training from failing
    at its first upload. Local stores need no wait.
    """
    if not uri.startswith(("http://", "https://")):
        return
    base = uri.rstrip("/")
    deadline = time.monotonic() + timeout
    try:
        _retry_until(deadline, "the tracking server", lambda: requests.get(base + "/health", timeout=5).raise_for_status())
    except requests.RequestException as exc:
        raise TrackingUnavailable(f"tracking server {uri} unreachable after {timeout:.0f}s: {_short(exc)}") from None
    try:
        _retry_until(deadline, "its artifact store", lambda: _check_artifact_store(base))
    except requests.RequestException as exc:
        raise TrackingUnavailable(
            f"tracking server {uri} is up but its artifact store did not answer within {timeout:.0f}s: {_short(exc)}"
        ) from None


def _retry_until(deadline: float, what: str, check: Callable[[], None]) -> None:
    def say_once(state: RetryCallState) -> None:
        if state.attempt_number == 1 and state.outcome is not None:
            log.info("waiting for %s (%s)", what, _short(state.outcome.exception()))

    for attempt in Retrying(
        stop=stop_after_delay(max(deadline - time.monotonic(), 0)),
        wait=wait_exponential(multiplier=0.5, max=5),
        retry=retry_if_exception_type(requests.RequestException),
        before_sleep=say_once,
        reraise=True,
    ):
        with attempt:
            check()


def _check_artifact_store(base: str) -> None:
    """List the root of the proxied artifact store; 503 means the server does not proxy artifacts."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    auth = (user, os.environ.get("MLFLOW_TRACKING_PASSWORD", "")) if user else None
    response = requests.get(base + "/api/2.0/mlflow-artifacts/artifacts", auth=auth, timeout=30)
    if response.status_code == 503:
        return  # --no-serve-artifacts: the client writes to the store itself
    if response.status_code in (401, 403):
        log.warning("cannot check the artifact store (HTTP %d for this user); going on", response.status_code)
        return
    if not response.ok:
        try:
            detail = response.json()["message"]
        except (ValueError, KeyError, TypeError):
            detail = response.text
        raise requests.HTTPError(f"HTTP {response.status_code}: {detail[:300]}", response=response)


def _short(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unknown"
    return text[:200]


def code_version() -> str:
    """Package version, plus the git revision when running from a checkout (images set MLOPS_CODE_VERSION)."""
    if os.environ.get("MLOPS_CODE_VERSION"):
        return os.environ["MLOPS_CODE_VERSION"]
    version = importlib.metadata.version("pycaret-mlops")
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{revision}"


def log_dataset(frame: pd.DataFrame, *, name: str, source: str, target: str) -> str:
    """Log the training data as an MLflow input (name, digest, schema); returns the digest."""
    dataset = mlflow.data.from_pandas(frame, name=name, targets=target)
    mlflow.log_input(dataset, context="training", tags={"source": source})
    return dataset.digest


def log_leaderboard(outcome: Outcome, task: Task) -> None:
    """The leaderboard as a table artifact, and one nested run per compared model with its CV metrics."""
    table = outcome.leaderboard.reset_index().rename(columns={"index": "model_id"})
    mlflow.log_table(table, artifact_file="leaderboard.json")
    for model_id, row in outcome.leaderboard.iterrows():
        with mlflow.start_run(run_name=str(row["Model"]), nested=True):
            mlflow.log_params({"model_id": model_id, "model": row["Model"]})
            mlflow.log_metrics(
                {f"cv_{metric_key(str(col), task)}": float(value) for col, value in row.items() if col != "Model"}
            )


def log_model(outcome: Outcome, features: pd.DataFrame) -> ModelInfo:
    """Log the finalized pipeline with signature, input example and pinned requirements."""
    example = features.head(5)
    signature = infer_signature(example, outcome.model.predict(example))
    info = mlflow.sklearn.log_model(
        outcome.model,
        name="model",
        serialization_format="cloudpickle",  # skops refuses PyCaret's pipeline classes
        signature=signature,
        input_example=example,
        pip_requirements=_requirements(outcome.model),
    )
    return info


def _requirements(model: Any) -> list[str]:
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    root_module = type(estimator).__module__.split(".")[0]
    names = list(BASE_REQUIREMENTS) + importlib.metadata.packages_distributions().get(root_module, [])
    pinned = {}
    for name in names:
        try:
            pinned[name.lower()] = f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            log.warning("requirement %s is not installed; not pinned", name)
    return sorted(pinned.values())
