"""Running the trainer in-process and reading back what it left in MLflow."""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Run

from training.__main__ import main as train_main

FAST = ["--folds", "3", "--n-jobs", "1", "--tracking-timeout", "30"]


def train(model_name: str, *args: str) -> int:
    """``mlops-train`` in this process: experiment and model named ``model_name``, fast CV."""
    return train_main(["--model-name", model_name, "--experiment", model_name, *FAST, *args])


def runs(experiment: str) -> list[Run]:
    """Top-level and nested runs of an experiment (none if the experiment was never created)."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    return MlflowClient().search_runs([found.experiment_id])


def parent_runs(experiment: str) -> list[Run]:
    return [run for run in runs(experiment) if "mlflow.parentRunId" not in run.data.tags]


def versions(model_name: str) -> list[str]:
    return sorted(v.version for v in MlflowClient().search_model_versions(f"name='{model_name}'"))


def aliases(model_name: str) -> dict[str, str]:
    return dict(MlflowClient().get_registered_model(model_name).aliases)
