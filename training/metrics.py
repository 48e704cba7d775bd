"""PyCaret metric names, the keys they get in MLflow, and which way is better."""

from __future__ import annotations

import re
from typing import Literal

Task = Literal["classification", "regression"]

# PyCaret display name -> (MLflow key, higher is better)
METRICS: dict[Task, dict[str, tuple[str, bool]]] = {
    "classification": {
        "Accuracy": ("accuracy", True),
        "AUC": ("auc", True),
        "Recall": ("recall", True),
        "Prec.": ("precision", True),
        "F1": ("f1", True),
        "Kappa": ("kappa", True),
        "MCC": ("mcc", True),
    },
    "regression": {
        "MAE": ("mae", False),
        "MSE": ("mse", False),
        "RMSE": ("rmse", False),
        "R2": ("r2", True),
        "RMSLE": ("rmsle", False),
        "MAPE": ("mape", False),
    },
}

DEFAULT_METRIC: dict[Task, str] = {"classification": "AUC", "regression": "R2"}


def resolve_metric(name: str | None, task: Task) -> str:
    """Map a user-given metric name (any case, PyCaret or MLflow spelling) to PyCaret's display name."""
    if name is None:
        return DEFAULT_METRIC[task]
    wanted = name.strip().lower()
    for display, (key, _) in METRICS[task].items():
        if wanted in (display.lower(), key, display.lower().rstrip(".")):
            return display
    choices = ", ".join(key for key, _ in METRICS[task].values())
    raise ValueError(f"unknown metric '{name}' for {task}; choose one of: {choices}")


def metric_key(display: str, task: Task) -> str:
    """MLflow key of a PyCaret metric column; other columns are slugified."""
    known = METRICS[task].get(display)
    if known:
        return known[0]
    return re.sub(r"[^a-z0-9]+", "_", display.lower()).strip("_")


def higher_is_better(display: str, task: Task) -> bool:
    return METRICS[task][display][1]
