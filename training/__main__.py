"""``mlops-train``: train with PyCaret, log to MLflow, register, and gate the ``champion`` alias.

Exit codes: 0 trained and registered (promoted or not), 2 bad settings, 3 bad data,
4 tracking server unreachable, 1 any other training failure, 143 terminated (SIGTERM).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from training import data, experiment, registry, tracking
from training.config import TrainSettings, load_settings
from training.errors import ConfigError, Interrupted, TrainingError
from training.metrics import higher_is_better, metric_key, resolve_metric

log = logging.getLogger("training")
EXAMPLE_URI = "http://127.0.0.1:5000"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "botocore", "mlflow.store", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # one line per nested run otherwise
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", os.devnull)  # not ./logs.log (read-only in pods)
    try:
        settings = load_settings(argv)
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            raise ConfigError(f"MLFLOW_TRACKING_URI is not set; point it at the tracking server, e.g. {EXAMPLE_URI}")
        train(settings)
    except TrainingError as exc:
        log.error("training failed: %s", exc)
        return exc.exit_code
    except MlflowException as exc:  # before a run exists, e.g. a deleted experiment or no permission
        log.error("training failed: tracking server refused: %s", exc.message)
        return 1
    except Interrupted:
        log.error("training terminated by SIGTERM; the run is marked FAILED and the registry is unchanged")
        return Interrupted.exit_code
    return 0


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


def train(settings: TrainSettings) -> registry.Decision:
    started = time.monotonic()
    uri = mlflow.get_tracking_uri()
    log.info("tracking server %s, experiment '%s', model '%s'", uri, settings.experiment, settings.model_name)
    tracking.wait_for_tracking_server(uri, settings.tracking_timeout)
    mlflow.set_experiment(settings.experiment)

    with mlflow.start_run() as run:
        log.info("run %s started", run.info.run_id)
        mlflow.log_params({k: v for k, v in settings.model_dump(mode="json").items() if v not in (None, [])})
        try:
            decision = _train_in_run(settings, run.info.run_id)
        except BaseException as exc:  # the run ends FAILED either way; record why on it
            mlflow.set_tag("mlops.error", (str(exc) or type(exc).__name__)[:5000])
            if isinstance(exc, Exception) and not isinstance(exc, TrainingError):
                raise TrainingError(f"{type(exc).__name__}: {exc}") from exc
            raise
    log.info("finished in %.1fs", time.monotonic() - started)
    return decision


def _train_in_run(settings: TrainSettings, run_id: str) -> registry.Decision:
    log.info("loading data from %s", settings.data)
    dataset = data.load_dataset(settings.data, s3_endpoint_url=settings.s3_endpoint_url)
    target = settings.target or dataset.default_target
    if target is None:
        raise ConfigError("no target column given: set --target (TRAIN_TARGET)")
    frame, task = data.prepare(
        dataset.frame,
        target=target,
        task=settings.task,
        ignore=settings.ignore,
        folds=settings.folds,
        min_rows=settings.min_rows,
    )
    try:
        metric = resolve_metric(settings.metric, task)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    log.info("%d rows, %d features, target '%s', task %s, metric %s", len(frame), frame.shape[1] - 1, target, task, metric)
    mlflow.log_params({"target": target, "task": task, "metric": metric, "rows": len(frame)})
    digest = tracking.log_dataset(frame, name=dataset.name, source=dataset.source, target=target)

    with tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp:
        outcome = experiment.run(frame, target=target, task=task, metric=metric, settings=settings, plot_dir=Path(tmp))
        log.info("leaderboard:\n%s", outcome.leaderboard.head(10).to_string())
        tracking.log_leaderboard(outcome, task)
        for plot in outcome.plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
    holdout = {f"holdout_{metric_key(name, task)}": value for name, value in outcome.holdout.items()}
    mlflow.log_metrics(holdout)
    mlflow.log_param("best_model", outcome.model_label)
    model_info = tracking.log_model(outcome, frame.drop(columns=[target]))

    key = f"holdout_{metric_key(metric, task)}"
    client = MlflowClient()
    with registry.Registration(client, settings.model_name) as registration:
        version = registration.create(
            model_info,
            run_id,
            tags={
                **{name: f"{value:.6g}" for name, value in holdout.items()},
                "task": task,
                "metric": key,
                "model": outcome.model_label,
                "dataset_digest": digest,
                "dataset_source": dataset.source,
                "code_version": tracking.code_version(),
            },
        )
        champion = registry.current_champion(client, settings.model_name)
        decision = registry.decide(
            candidate=holdout[key],
            champion=registry.version_metric(champion, key),
            champion_version=champion.version if champion else None,
            metric=key,
            higher_is_better=higher_is_better(metric, task),
            margin=settings.promotion_margin,
            promote_first=settings.promote_first,
        )
        mlflow.set_tags(
            {
                "promotion.decision": decision.alias,
                "promotion.reason": decision.reason,
                "promotion.version": version.version,
            }
        )
        if decision.champion is not None:
            mlflow.log_metric(f"champion_{key}", decision.champion)
        registration.set_alias(decision.alias)
    log.info(
        "registered %s version %s as %s: %s", settings.model_name, version.version, decision.alias, decision.reason
    )
    return decision


if __name__ == "__main__":
    sys.exit(main())
