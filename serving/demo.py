"""``make demo``: the whole loop on one machine, no cluster.

Starts a tracking server (SQLite store, local artifacts under ``--state-dir``), trains and
registers with ``mlops-train``, serves ``@champion`` with ``mlops-serve``, scores real rows
over HTTP, prints them, and stops what it started. The state directory is kept, so a second
run trains a new version and goes through the promotion gate against the first.
Arguments after ``--`` go to the trainer (e.g. ``-- --data my.csv --target y``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import requests

from serving.client import score
from serving.processes import ServiceFailed, free_port, process, wait_http
from training.config import load_settings
from training.data import load_dataset

# Defaults for the demo's trainer, as environment so that flags after -- (or your TRAIN_*) override them.
DEMO_TRAIN_ENV = {"TRAIN_MODELS": "lr,rf,et,dt", "TRAIN_EXPERIMENT": "demo", "TRAIN_MODEL_NAME": "demo"}
ROWS_TO_SCORE = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=Path(".state/demo"), help="default: .state/demo")
    parser.add_argument("--port", type=int, default=5000, help="tracking server port (default: 5000)")
    parser.add_argument("train_args", nargs="*", help="extra trainer flags, after --")
    args = parser.parse_args(argv)
    train_args = args.train_args
    for name, value in DEMO_TRAIN_ENV.items():
        os.environ.setdefault(name, value)
    state = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"http://127.0.0.1:{args.port}"
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    logs = state / "logs"

    try:
        with process(
            [sys.executable, "-m", "serving.tracking_server", "--port", str(args.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{state / 'mlflow.db'}",
             "--artifacts-destination", str(state / "artifacts")],
            logs / "tracking-server.log",
        ) as tracking:  # fmt: skip
            _step(f"tracking server starting at {tracking_uri} (log: {logs / 'tracking-server.log'})")
            wait_http(f"{tracking_uri}/health", 120, tracking, logs / "tracking-server.log")

            defaults = " ".join(f"{name}={os.environ[name]}" for name in DEMO_TRAIN_ENV)
            _step(f"training: {defaults} mlops-train {' '.join(train_args)}".rstrip())
            trained = subprocess.run([sys.executable, "-m", "training", *train_args], env={**os.environ, **env})
            if trained.returncode != 0:
                print(f"demo: training failed (exit {trained.returncode})", file=sys.stderr)
                return trained.returncode

            settings = load_settings(train_args)
            port = free_port()
            model_log = logs / "model-server.log"
            with process(
                [sys.executable, "-m", "serving", "--model-name", settings.model_name, "--port", str(port)],
                model_log,
                env=env,
            ) as server:
                _step(f"model server starting for models:/{settings.model_name}@champion (log: {model_log})")
                url = f"http://127.0.0.1:{port}"
                wait_http(f"{url}/ping", 180, server, model_log)
                try:
                    _show_predictions(url, settings)
                except (RuntimeError, requests.RequestException) as exc:
                    print(
                        f"demo: scoring failed: {exc}\n"
                        f"demo: the champion of '{settings.model_name}' may have been trained on other data "
                        "(a new model for other data is not compared with it); "
                        "use another DEMO_STATE or --model-name",
                        file=sys.stderr,
                    )
                    return 1
            _step(f"MLflow UI was at {tracking_uri}; browse it again with: make ui DEMO_STATE={args.state_dir}")
    except ServiceFailed as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    return 0


def _show_predictions(url: str, settings) -> None:
    dataset = load_dataset(settings.data, s3_endpoint_url=settings.s3_endpoint_url)
    target = settings.target or dataset.default_target
    rows = dataset.frame.sample(ROWS_TO_SCORE, random_state=0)
    features = rows.drop(columns=[target, *settings.ignore])
    predictions = score(url, features.to_csv(index=False).encode(), "text/csv")
    _step(f"scored {len(rows)} real rows over HTTP at {url}/invocations")
    shown = pd.DataFrame(
        {"actual": rows[target].to_numpy(), "predicted": [_value(p) for p in predictions]}, index=rows.index
    )
    print(shown.to_string(), flush=True)


def _value(prediction: object) -> object:
    return next(iter(prediction.values())) if isinstance(prediction, dict) else prediction


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
