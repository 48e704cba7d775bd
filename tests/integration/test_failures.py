"""Every way a training run can fail: one clear error, non-zero exit, run FAILED, registry untouched."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests import services
from tests.integration.helpers import FAST, aliases, parent_runs, runs, train, versions
from tests.services import REPO

pytestmark = pytest.mark.integration


def assert_nothing_registered_and_run_failed(model_name: str, error: str) -> None:
    assert versions(model_name) == []
    [run] = parent_runs(model_name)
    assert run.info.status == "FAILED"
    assert error in run.data.tags["mlops.error"]
    assert not [r for r in runs(model_name) if r.info.status == "RUNNING"]


@pytest.mark.parametrize(
    ("content", "args", "code", "error"),
    [
        (None, ["--target", "y"], 3, "data file not found"),
        ("", ["--target", "y"], 3, "data file is empty"),
        ("a,b,y\n", ["--target", "y"], 3, "has a header but no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8garbage\x00", ["--target", "y"], 3, "not UTF-8"),
        ("a,b,y\n" + "1,2,3\n" * 40, ["--target", "price"], 3, "target column 'price' not found"),
        ("a,b,y\n" + "1,2,yes\n" * 40, ["--target", "y"], 3, "single class ('yes')"),
        ("a,b,y\n" + "1,2,0\n3,4,1\n" * 5, ["--target", "y"], 3, "too few rows to train: 10"),
        ("a,b,y\n" + "1,2,0\n3,4,1\n" * 20, ["--target", "y", "--metric", "rmse"], 2, "unknown metric 'rmse'"),
        ("a,b,y\n" + "1,2,0\n3,4,1\n" * 20, ["--target", "y", "--models", "lr,xgb9"], 2, "unknown model ids for classification: xgb9; available: ada,"),
    ],
)
def test_bad_data(tracking_uri: str, tmp_path: Path, model_name: str, content, args: list[str], code: int, error: str) -> None:
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert train(model_name, "--data", str(path), *args) == code
    assert_nothing_registered_and_run_failed(model_name, error)


def test_failed_run_keeps_existing_champion(tracking_uri: str, tmp_path: Path, model_name: str) -> None:
    assert train(model_name, "--data", "sklearn:breast_cancer", "--models", "lr") == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert train(model_name, "--data", str(empty), "--target", "y") == 3
    assert versions(model_name) == ["1"]
    assert aliases(model_name) == {"champion": "1"}


def test_registration_is_rolled_back_when_the_alias_cannot_be_set(
    tracking_uri: str, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args, **kwargs):
        raise RuntimeError("alias update refused")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    assert train(model_name, "--data", "sklearn:breast_cancer", "--models", "dt") == 1
    # Neither the version nor the (new) registered model is left behind.
    assert MlflowClient().search_registered_models(f"name='{model_name}'") == []
    [run] = parent_runs(model_name)
    assert run.info.status == "FAILED"
    assert "alias update refused" in run.data.tags["mlops.error"]


def test_unreachable_tracking_server(monkeypatch: pytest.MonkeyPatch, caplog, model_name: str) -> None:
    from serving.processes import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    assert train(model_name, "--tracking-timeout", "2") == 4
    assert time.monotonic() - started < 30
    assert "unreachable after 2s: connection refused" in caplog.text


@pytest.fixture(scope="module")
def server_without_bucket(tmp_path_factory: pytest.TempPathFactory, tracking_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A healthy tracking server whose artifact bucket does not exist (yet): (url, bucket)."""
    bucket = f"late-{uuid.uuid4().hex[:8]}"
    env = {**tracking_env, "TRACKING_ARTIFACTS_DESTINATION": f"s3://{bucket}/artifacts"}
    with services.tracking_server(tmp_path_factory.mktemp("tracking-late-bucket"), env) as url:
        yield url, bucket


def test_missing_artifact_store_fails_before_training(
    server_without_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch, caplog, model_name: str
) -> None:
    url, bucket = server_without_bucket
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    assert train(model_name, "--data", "sklearn:breast_cancer", "--tracking-timeout", "3") == 4
    assert (f"tracking server {url} is up but its artifact store did not answer within 3s: HTTP 404: "
            f"Failed to list artifacts in s3://{bucket}/artifacts: The specified bucket does not exist") in caplog.text
    assert "compare_models" not in caplog.text  # no time spent training
    assert runs(model_name) == []


def test_trainer_waits_for_the_artifact_store(
    server_without_bucket: tuple[str, str], minio: services.Minio, caplog, model_name: str
) -> None:
    from training.tracking import wait_for_tracking_server

    url, bucket = server_without_bucket
    caplog.set_level(logging.INFO, logger="training.tracking")
    create = threading.Timer(3, minio.client().create_bucket, kwargs={"Bucket": bucket})
    create.start()
    started = time.monotonic()
    wait_for_tracking_server(url, timeout=60)
    create.join()
    assert time.monotonic() - started >= 3
    assert "waiting for its artifact store (HTTP 404: Failed to list artifacts" in caplog.text


def test_sigterm_marks_the_run_failed(tracking_uri: str, model_name: str) -> None:
    command = [sys.executable, "-m", "training", "--model-name", model_name, "--experiment", model_name, *FAST,
               "--models", "lr,dt,rf,et,knn", "--tune"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "compare_models" in line:  # the run exists and PyCaret is working
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    output = "".join(seen) + rest

    assert proc.returncode == 143, output
    assert "terminated by SIGTERM" in output
    assert_nothing_registered_and_run_failed(model_name, "Interrupted")


def test_tracking_uri_is_required(monkeypatch: pytest.MonkeyPatch, caplog, model_name: str) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert train(model_name) == 2
    assert "MLFLOW_TRACKING_URI is not set" in caplog.text
