import subprocess
import sys

import pytest
import sqlalchemy

from serving.settings import InvalidSettings, parse
from serving.tracking_server import TrackingSettings, server_command
from tests.services import REPO

DB = {"TRACKING_DB_HOST": "db", "TRACKING_DB_USER": "ml flow", "TRACKING_ARTIFACTS_DESTINATION": "s3://mlflow"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TRACKING_"):
            monkeypatch.delenv(name)


def test_credentials_are_percent_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**DB, "TRACKING_DB_PASSWORD": "p@ss:w/rd%#?"}.items():
        monkeypatch.setenv(name, value)
    uri = parse(TrackingSettings, []).store_uri()
    assert uri == "postgresql+psycopg2://ml flow:p%40ss%3Aw%2Frd%25%23%3F@db:5432/mlflow"
    parsed = sqlalchemy.engine.make_url(uri)
    assert (parsed.username, parsed.password, parsed.host) == ("ml flow", "p@ss:w/rd%#?", "db")


def test_password_is_not_in_the_server_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**DB, "TRACKING_DB_PASSWORD": "hunter2", "TRACKING_ALLOWED_HOSTS": "mlflow,mlflow:5000"}.items():
        monkeypatch.setenv(name, value)
    settings = parse(TrackingSettings, ["--metrics-dir", "/tmp/metrics", "--auth"])
    command = server_command(settings)
    assert "hunter2" not in " ".join(command)
    assert command[command.index("--allowed-hosts") + 1] == "mlflow,mlflow:5000"
    assert command[command.index("--artifacts-destination") + 1] == "s3://mlflow"
    assert "--serve-artifacts" in command
    assert command[command.index("--expose-prometheus") + 1] == "/tmp/metrics"
    assert command[-2:] == ["--app-name", "basic-auth"]
    assert "hunter2" not in repr(settings)


def test_store_must_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKING_ARTIFACTS_DESTINATION", "s3://mlflow")
    with pytest.raises(InvalidSettings, match="set TRACKING_BACKEND_STORE_URI, or TRACKING_DB_HOST"):
        parse(TrackingSettings, [])


def test_launcher_exits_with_one_clear_line_when_unconfigured() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "serving.tracking_server"], cwd=REPO, capture_output=True, text=True, env={}
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid settings: --artifacts-destination (TRACKING_ARTIFACTS_DESTINATION): Field required"
    ]
