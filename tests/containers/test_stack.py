"""The images working together: tracking server on real PostgreSQL + MinIO, the trainer registering
through it, the model server serving @champion, and MinIO keeping data on its volume."""

from __future__ import annotations

import io
import json
import time
import uuid

import boto3
import pandas as pd
import psycopg2
import pytest
import requests

from serving.processes import free_port
from tests.containers import dockerctl
from tests.containers.dockerctl import post_invocations

pytestmark = pytest.mark.containers

MODEL_READY_SECONDS = 300


def test_tracking_server_migrates_and_becomes_healthy(tracking_container, container_database) -> None:
    container, url = tracking_container
    assert container.health() == "healthy"
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    assert container.exec("id", "-u").stdout.strip() != "0"
    conn = psycopg2.connect(
        host=container_database["TRACKING_DB_HOST"],
        port=int(container_database["TRACKING_DB_PORT"]),
        dbname=container_database["TRACKING_DB_NAME"],
        user=container_database["TRACKING_DB_USER"],
        password=container_database["TRACKING_DB_PASSWORD"],
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        assert cur.fetchone()[0], "mlflow db upgrade left no schema version"
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('experiments', 'registered_models', 'model_versions')")
        assert cur.fetchone()[0] == 3
    conn.close()
    # The REST API works on that schema.
    response = requests.get(f"{url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "Default"}, timeout=10)
    assert response.status_code == 200, response.text


def test_trainer_trains_and_registers(trained_model, container_tracking_uri) -> None:
    from mlflow import MlflowClient

    assert trained_model["returncode"] == 0, f"trainer exited {trained_model['returncode']}:\n{trained_model['output'][-4000:]}"
    client = MlflowClient(tracking_uri=container_tracking_uri)
    version = client.get_model_version_by_alias(trained_model["name"], "champion")
    assert version.version == "1"
    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params.get("best_model"), run.data.params
    assert version.tags.get("code_version", "").startswith("0."), version.tags
    # The artifacts went through the tracking server into MinIO (the trainer had no S3 credentials).
    assert any(a.path == "plots" for a in client.list_artifacts(version.run_id))


@pytest.fixture
def model_server(images, trained_model, container_tracking_uri):
    """The model-server image serving <trained model>@champion; yields (container, url, cold start seconds)."""
    assert trained_model["returncode"] == 0, "the trainer container failed; see test_trainer_trains_and_registers"
    port = free_port()
    env = {
        "MLFLOW_TRACKING_URI": container_tracking_uri,
        "SERVE_MODEL_NAME": trained_model["name"],
        "SERVE_HOST": "127.0.0.1",
        "SERVE_PORT": str(port),
    }
    options = ("--read-only", "--tmpfs", "/tmp", "--health-interval", "2s")
    started = time.monotonic()
    container = dockerctl.run_detached(images["model-server"], "serve", env, options=options)
    container.started_at = started
    url = f"http://127.0.0.1:{port}"
    rows = _rows(3)
    try:
        # Cold start: `docker run` -> first successful /invocations.
        deadline = started + MODEL_READY_SECONDS
        while True:
            if not container.state()["Running"]:
                pytest.fail(f"model server exited:\n{container.logs()}", pytrace=False)
            try:
                if post_invocations(url, {"dataframe_split": rows.to_dict(orient="split")}, timeout=10).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"model server not serving after {MODEL_READY_SECONDS}s:\n{container.logs()}", pytrace=False)
            time.sleep(0.25)
        cold_start = time.monotonic() - started
        print(f"\nmodel-server cold start (docker run -> first /invocations 200): {cold_start:.1f}s")
        yield container, url, cold_start
    finally:
        container.remove()


def _rows(count: int | None = None) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    return frame if count is None else frame.sample(count, random_state=7)


def test_model_server_serves_the_champion_like_in_process(
    model_server, trained_model, container_tracking_uri, monkeypatch
) -> None:
    import mlflow
    from mlflow.pyfunc.scoring_server import predictions_to_json

    container, url, cold_start = model_server
    assert requests.get(f"{url}/ping", timeout=5).status_code == 200
    assert container.exec("id", "-u").stdout.strip() != "0"
    rows = _rows(60)

    response = post_invocations(url, {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
    assert response.status_code == 200, response.text
    served = response.json()["predictions"]

    csv_response = post_invocations(url, rows.to_csv(index=False), content_type="text/csv")
    assert csv_response.status_code == 200, csv_response.text
    assert csv_response.json()["predictions"] == served

    # The same registered model, loaded in this process from the same tracking server.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", container_tracking_uri)
    for name in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    model = mlflow.pyfunc.load_model(f"models:/{trained_model['name']}@champion")
    local = model.predict(rows)
    # Serialized the way the scoring server does (a Series becomes [{"<name>": value}, ...]).
    buffer = io.StringIO()
    predictions_to_json(local, buffer)
    expected = json.loads(buffer.getvalue())["predictions"]
    assert len(served) == len(rows)
    assert served == expected, "served predictions differ from in-process ones"
    labels = {next(iter(p.values())) if isinstance(p, dict) else p for p in served}
    assert labels <= {"benign", "malignant"}, labels

    # Docker's view of the image's HEALTHCHECK agrees.
    container.wait_healthy(60)
    # tini forwards SIGTERM to the whole process group: a prompt, clean stop.
    started = time.monotonic()
    dockerctl.docker("stop", "-t", "30", container.name, timeout=60)
    stop_seconds = time.monotonic() - started
    print(f"model-server stop: {stop_seconds:.1f}s, exit code {container.state()['ExitCode']}")
    assert stop_seconds < 15, f"docker stop took {stop_seconds:.1f}s: SIGTERM is not reaching the server"


@pytest.fixture
def minio_volume() -> str:
    name = f"mlops-test-minio-{uuid.uuid4().hex[:8]}"
    dockerctl.docker("volume", "create", "--label", dockerctl.TEST_LABEL, name)
    yield name
    dockerctl.docker("volume", "rm", "-f", name, check=False)


def test_minio_serves_s3_and_keeps_objects_across_restarts(images, minio_volume) -> None:
    port, console = free_port(), free_port()
    env = {
        "MINIO_ROOT_USER": "containers",
        "MINIO_ROOT_PASSWORD": "containers-secret-1",
        "MINIO_ADDRESS": f"127.0.0.1:{port}",
        "MINIO_CONSOLE_ADDRESS": f"127.0.0.1:{console}",
    }
    options = ("-v", f"{minio_volume}:/data", "--read-only", "--tmpfs", "/tmp", "--health-interval", "1s")
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=env["MINIO_ROOT_USER"],
        aws_secret_access_key=env["MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
    )
    body = uuid.uuid4().bytes * 1000
    first = dockerctl.run_detached(images["minio"], "minio", env, options=options)
    try:
        first.wait_healthy(60)
        assert first.exec("id", "-u").stdout.strip() != "0"
        s3.create_bucket(Bucket="keep")
        s3.put_object(Bucket="keep", Key="dir/object.bin", Body=body)

        # 1) the same container restarted
        dockerctl.docker("restart", "-t", "20", first.name, timeout=60)
        first.wait_healthy(60)
        assert s3.get_object(Bucket="keep", Key="dir/object.bin")["Body"].read() == body
    finally:
        first.remove()

    # 2) a new container on the same volume
    second = dockerctl.run_detached(images["minio"], "minio", env, options=options)
    try:
        second.wait_healthy(60)
        assert s3.get_object(Bucket="keep", Key="dir/object.bin")["Body"].read() == body
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="keep")["Contents"]]
        assert keys == ["dir/object.bin"]
    finally:
        second.remove()
