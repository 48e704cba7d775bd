"""Everything the trainer writes to MLflow, through the MLflow API (not PyCaret's logger)."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import requests
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from training.errors import TrackingUnavailable
from training.experiment import Outcome
from training.metrics import Task, metric_key

log = logging.getLogger(__name__)

# Distributions a served PyCaret pipeline needs besides the estimator's own package.
BASE_REQUIREMENTS = ("mlflow", "pycaret", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")


def wait_for_tracking_server(uri: str, timeout: float) -> None:
    """Block until an http(s) tracking server answers /health; local stores need no wait."""
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        for attempt in Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.5, max=5),
            retry=retry_if_exception_type(requests.RequestException),
            reraise=True,
        ):
            with attempt:
                requests.get(url, timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise TrackingUnavailable(f"tracking server {uri} unreachable after {timeout:.0f}s: {_short(exc)}") from None


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
