"""The PyCaret part: setup -> compare_models -> optional tune -> holdout score -> finalize."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from training.errors import ConfigError, TrainingError
from training.metrics import Task

log = logging.getLogger(__name__)

PLOTS: dict[Task, dict[str, str]] = {
    "classification": {"confusion_matrix": "confusion_matrix", "auc": "roc", "feature": "feature_importance"},
    "regression": {"residuals": "residuals", "error": "prediction_error", "feature": "feature_importance"},
}


@dataclass
class Outcome:
    model: Any  # the finalized PyCaret pipeline, fitted on all rows
    model_label: str
    leaderboard: pd.DataFrame  # one row per compared model, mean CV metrics
    holdout: dict[str, float]  # metrics of the best model on the holdout split, by PyCaret display name
    plots: list[Path]


def run(frame: pd.DataFrame, *, target: str, task: Task, metric: str, settings: Any, plot_dir: Path) -> Outcome:
    """Train with PyCaret; ``settings`` is the TrainSettings of the run."""
    from pycaret.classification import ClassificationExperiment
    from pycaret.regression import RegressionExperiment

    exp = ClassificationExperiment() if task == "classification" else RegressionExperiment()
    with _stage("setup"):
        exp.setup(
            data=frame,
            target=target,
            train_size=settings.train_size,
            fold=settings.folds,
            session_id=settings.seed,
            n_jobs=settings.n_jobs,
            verbose=False,
            html=False,
            log_experiment=False,  # PyCaret's MLflow logger is broken with MLflow 3; we log ourselves
            system_log=False,
            memory=False,
        )

    available = sorted(exp.models().index)
    unknown = [model for model in settings.models if model not in available]
    if unknown:
        raise ConfigError(f"unknown model ids for {task}: {', '.join(unknown)}; available: {', '.join(available)}")

    with _stage(f"compare_models ({', '.join(settings.models) or 'all'})"):
        best = exp.compare_models(
            include=settings.models or None,
            sort=metric,
            n_select=1,
            budget_time=settings.budget_minutes,
            verbose=False,
        )
        leaderboard = exp.pull()
    if best is None or isinstance(best, list) or leaderboard.empty:  # [] when every model failed
        raise TrainingError("no model could be trained; check the data and the model list")
    label = str(leaderboard.iloc[0]["Model"])
    log.info("best model: %s (CV %s %.4f)", label, metric, leaderboard.iloc[0][metric])

    if settings.tune:
        with _stage("tune_model"):
            best = exp.tune_model(
                best, optimize=metric, n_iter=settings.tune_iterations, choose_better=True, verbose=False
            )

    with _stage("holdout score"):
        exp.predict_model(best, verbose=False)
        holdout_row = exp.pull().iloc[0]
    holdout = {name: float(value) for name, value in holdout_row.items() if name != "Model"}
    log.info("holdout %s: %.4f", metric, holdout[metric])

    with _stage("plots"):
        plots = _save_plots(exp, best, task, plot_dir)

    with _stage("finalize_model"):
        final = exp.finalize_model(best)
    return Outcome(model=final, model_label=label, leaderboard=leaderboard, holdout=holdout, plots=plots)


def _save_plots(exp: Any, model: Any, task: Task, plot_dir: Path) -> list[Path]:
    """Save the diagnostic plots this model supports; a plot it cannot draw is skipped with a note."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for plot, name in PLOTS[task].items():
        try:
            path = Path(exp.plot_model(model, plot=plot, save=str(plot_dir), verbose=False))
        except Exception as exc:  # noqa: BLE001 - PyCaret raises bare TypeError/ValueError per model type
            log.info("plot %s not available for this model: %s", name, str(exc).splitlines()[0][:120])
            continue
        target = plot_dir / f"{name}.png"
        path.replace(target)
        saved.append(target)
    return saved


class _stage:
    """Log a stage's start and its elapsed time."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.monotonic()
        log.info("%s ...", self.name)

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            log.info("%s done in %.1fs", self.name, time.monotonic() - self.start)
