"""A real ``mlflow models serve`` (through ``mlops-serve``) for the champion, scored over HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests

from serving.client import main as score_main
from tests import services
from tests.integration.helpers import train
from training.data import load_dataset

pytestmark = pytest.mark.serving


def served(name: str, data: str, models: str, tracking_server: str, workdir: Path) -> Iterator[tuple[str, pd.DataFrame]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking_server)
        assert train(name, "--data", data, "--models", models) == 0
        features = load_dataset(data).frame.drop(columns=["target"]).sample(25, random_state=1)
        with services.model_server(workdir, tracking_server, name) as url:
            yield url, features.astype("float64")


@pytest.fixture(scope="module")
def classifier(tracking_server: str, tmp_path_factory) -> Iterator[tuple[str, pd.DataFrame]]:
    yield from served("served-classifier", "sklearn:breast_cancer", "lr", tracking_server, tmp_path_factory.mktemp("c"))


@pytest.fixture(scope="module")
def regressor(tracking_server: str, tmp_path_factory) -> Iterator[tuple[str, pd.DataFrame]]:
    yield from served("served-regressor", "sklearn:diabetes", "lr", tracking_server, tmp_path_factory.mktemp("r"))


def invoke(url: str, body: str | bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(f"{url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=60)


def split_json(frame: pd.DataFrame) -> str:
    return json.dumps({"dataframe_split": frame.to_dict(orient="split")})


def in_process(name: str, features: pd.DataFrame) -> np.ndarray:
    predictions = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(features)
    return np.asarray(predictions).ravel()


def served_values(response: requests.Response) -> list:
    assert response.status_code == 200, response.text
    return [next(iter(p.values())) if isinstance(p, dict) else p for p in response.json()["predictions"]]


def test_classifier_predictions_match_in_process(classifier, tracking_uri: str) -> None:
    url, features = classifier
    expected = in_process("served-classifier", features)
    assert set(expected) <= {"malignant", "benign"}
    assert served_values(invoke(url, split_json(features))) == list(expected)
    assert served_values(invoke(url, features.to_csv(index=False), "text/csv")) == list(expected)


def test_regressor_predictions_match_in_process(regressor, tracking_uri: str) -> None:
    url, features = regressor
    expected = in_process("served-regressor", features)
    assert np.allclose(served_values(invoke(url, split_json(features))), expected, rtol=1e-9)
    assert np.allclose(served_values(invoke(url, features.to_csv(index=False), "text/csv")), expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("make_body", "content_type", "message"),
    [
        (lambda f: '{"dataframe_split": {"columns": ["a"], ', "application/json", "valid JSON"),
        (lambda f: "", "application/json", "valid JSON"),
        (lambda f: "", "text/csv", "No columns to parse"),
        (lambda f: split_json(f.drop(columns=["mean radius"])), "application/json", "Model is missing inputs ['mean radius']"),
        (lambda f: split_json(f.astype(object).assign(**{"mean area": "large"})), "application/json",
         "Failed to convert column mean area"),
        (lambda f: json.dumps({"rows": [1, 2]}), "application/json", "dataframe_split"),
    ],
    ids=["malformed-json", "empty-json", "empty-csv", "missing-column", "wrong-type", "unknown-format"],
)
def test_bad_requests_get_4xx_naming_the_problem(classifier, make_body, content_type: str, message: str) -> None:
    url, features = classifier
    response = invoke(url, make_body(features.head(2)), content_type)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["message"]


def test_scoring_client_prints_predictions(classifier, tmp_path: Path, capsys) -> None:
    url, features = classifier
    rows = tmp_path / "rows.csv"
    features.head(3).to_csv(rows, index=False)
    assert score_main([url, "--csv", str(rows)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["target"] in {"malignant", "benign"} for line in lines)


def test_scoring_client_reports_server_errors(classifier, tmp_path: Path, capsys) -> None:
    url, features = classifier
    rows = tmp_path / "rows.csv"
    features.head(1).drop(columns=["worst area"]).to_csv(rows, index=False)
    assert score_main([url, "--csv", str(rows)]) == 1
    assert "HTTP 400" in capsys.readouterr().err


def test_model_server_gives_up_clearly_when_no_champion(tracking_server: str) -> None:
    result = services.serve_until_it_gives_up("never-trained", MLFLOW_TRACKING_URI=tracking_server)
    assert result.returncode == 1
    assert "no model to serve after 1s: registered model 'never-trained' does not exist" in result.stderr


def test_model_server_reports_an_unreachable_tracking_server_as_such() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = services.serve_until_it_gives_up(
        "any", MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0"
    )
    assert result.returncode == 1
    assert "no model to serve after 1s: tracking server error:" in result.stderr
    assert "does not exist" not in result.stderr
