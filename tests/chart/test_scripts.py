"""The chart's own scripts (helm/pycaret-mlops/files), run as the pods run them: against a real
MinIO and a real tracking server with basic auth (tests/services.py), and against small fake
HTTP servers for the Kubernetes API and the model server."""

from __future__ import annotations

import configparser
import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy

from tests import services
from tests.chart.conftest import CHART, RELEASE, render
from tests.chart.fake_apiserver import FakeServer
from tests.chart.manifests import env_value, pod_templates

FILES = CHART / "files"
PASSWORD = "p@ss:w/rd%#?&"  # needs percent-encoding, and '%' must be doubled for configparser


def run_script(name: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "KUBERNETES_"))}
    return subprocess.run(
        [sys.executable, str(FILES / name)], env={**base, **env}, capture_output=True, text=True, timeout=timeout
    )


# --- fake HTTP servers ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[tuple[FakeServer, dict[str, str], dict]]:
    """A fake API server with one Deployment; returns (server, env for the script, deployment)."""
    server = FakeServer()
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("test-token\n")
    (sa / "namespace").write_text("ml\n")
    deployment = {"spec": {"template": {"metadata": {"annotations": {}}}}}
    path = f"/apis/apps/v1/namespaces/ml/deployments/{RELEASE}-model-server"

    def patch(req: dict) -> tuple[int, dict]:
        deployment["spec"]["template"]["metadata"]["annotations"].update(
            req["body"]["spec"]["template"]["metadata"]["annotations"])
        return 200, deployment

    server.routes[("GET", path)] = lambda req: (200, deployment)
    server.routes[("PATCH", path)] = patch
    env = {"KUBERNETES_API_URL": server.url, "SERVICE_ACCOUNT_DIR": str(sa),
           "MODEL_SERVER_DEPLOYMENT": f"{RELEASE}-model-server"}
    yield server, env, deployment
    server.close()


# --- write_auth_config.py -------------------------------------------------------------------------


def test_auth_config_is_written_privately_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "basic_auth.ini"
    proc = run_script("write_auth_config.py", {
        "MLFLOW_AUTH_CONFIG_PATH": str(path), "AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": "a%b",
        "TRACKING_DB_HOST": "db", "TRACKING_DB_PORT": "5433", "TRACKING_DB_NAME": "mlflow",
        "TRACKING_DB_USER": "ml user", "TRACKING_DB_PASSWORD": PASSWORD,
    })
    assert proc.returncode == 0, proc.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    config = configparser.ConfigParser()  # MLflow's reader, with its '%' interpolation
    config.read(path)
    uri = config["mlflow"]["database_uri"]
    parsed = sqlalchemy.engine.make_url(uri)
    assert (parsed.drivername, parsed.host, parsed.port, parsed.database) == ("postgresql+psycopg2", "db", 5433, "mlflow")
    assert (parsed.username, parsed.password) == ("ml user", PASSWORD)
    assert config["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert config["mlflow"]["admin_password"] == "a%b"


def test_auth_config_takes_a_full_store_uri(tmp_path: Path) -> None:
    path = tmp_path / "auth.ini"
    uri = "postgresql+psycopg2://u:p%40ss@db.example.com:5432/mlflow?sslmode=require"
    proc = run_script("write_auth_config.py", {
        "MLFLOW_AUTH_CONFIG_PATH": str(path), "TRACKING_BACKEND_STORE_URI": uri,
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": "pw",
    })
    assert proc.returncode == 0, proc.stderr
    config = configparser.ConfigParser()
    config.read(path)
    assert config["mlflow"]["database_uri"] == uri


def test_auth_config_fails_in_one_line_without_settings(tmp_path: Path) -> None:
    proc = run_script("write_auth_config.py", {"MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "x.ini")})
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("auth-config: missing or invalid setting") and len(proc.stderr.splitlines()) == 1


# --- create_bucket.py against a real MinIO --------------------------------------------------------


def test_create_bucket_is_idempotent_and_private(minio: services.Minio) -> None:
    bucket = f"chart-{uuid.uuid4().hex[:10]}"
    env = {**minio.env, "BUCKET": bucket, "WAIT_SECONDS": "30"}
    first = run_script("create_bucket.py", env)
    assert first.returncode == 0, first.stderr
    assert f"created private bucket s3://{bucket}" in first.stdout
    second = run_script("create_bucket.py", env)
    assert second.returncode == 0, second.stderr
    assert "already exists" in second.stdout
    client = minio.client()
    client.head_bucket(Bucket=bucket)
    with pytest.raises(client.exceptions.ClientError) as err:
        client.get_bucket_policy(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    anonymous = requests.get(f"{minio.endpoint}/{bucket}/", timeout=10)
    assert anonymous.status_code == 403


def test_create_bucket_gives_up_on_an_unreachable_endpoint() -> None:
    proc = run_script("create_bucket.py", {
        "BUCKET": "x-bucket", "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{services.free_port()}",
        "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "WAIT_SECONDS": "1",
    }, timeout=60)
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr


def test_create_bucket_fails_on_wrong_credentials(minio: services.Minio) -> None:
    env = {**minio.env, "AWS_SECRET_ACCESS_KEY": "wrong-secret", "BUCKET": "never-created", "WAIT_SECONDS": "5"}
    proc = run_script("create_bucket.py", env, timeout=60)
    assert proc.returncode == 1
    assert "cannot use s3://never-created" in proc.stderr


# --- the chart's tracking server with basic auth, for real ----------------------------------------


@pytest.fixture(scope="module")
def auth_tracking(postgres: services.Postgres, minio: services.Minio, tmp_path_factory: pytest.TempPathFactory):
    """mlops-tracking-server wired as the chart wires it with ci/auth-values.yaml: the init
    container's auth ini, the rendered TRACKING_ALLOWED_HOSTS, metrics, artifacts in MinIO."""
    if importlib.util.find_spec("flask_wtf") is None:
        pytest.fail("MLflow's basic-auth app needs Flask-WTF: the dependencies must name mlflow[auth] "
                    "(trackingServer.auth.enabled=true cannot start without it)", pytrace=False)
    database = f"chart_auth_{uuid.uuid4().hex[:6]}"
    admin = sqlalchemy.create_engine(
        sqlalchemy.engine.URL.create("postgresql+psycopg2", username=postgres.user, password=postgres.password,
                                     host=postgres.host, port=postgres.port, database=postgres.database),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    docs = render(CHART / "ci" / "auth-values.yaml")
    (tracking,) = [p for p in pod_templates(docs) if p.kind == "Deployment" and p.component == "tracking-server"]
    allowed = env_value(tracking.container("tracking-server"), "TRACKING_ALLOWED_HOSTS")
    work = tmp_path_factory.mktemp("auth-tracking")
    db_env = {"TRACKING_DB_HOST": postgres.host, "TRACKING_DB_PORT": str(postgres.port), "TRACKING_DB_NAME": database,
              "TRACKING_DB_USER": postgres.user, "TRACKING_DB_PASSWORD": postgres.password}
    auth_env = {"MLFLOW_AUTH_CONFIG_PATH": str(work / "basic_auth.ini"), "AUTH_DEFAULT_PERMISSION": "NO_PERMISSIONS",
                "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": "Adm1n-" + uuid.uuid4().hex}
    proc = run_script("write_auth_config.py", {**db_env, **auth_env})
    assert proc.returncode == 0, proc.stderr
    env = {**db_env, **auth_env, **minio.env,
           "TRACKING_ARTIFACTS_DESTINATION": "s3://mlflow/chart-auth", "TRACKING_AUTH": "true",
           "TRACKING_ALLOWED_HOSTS": allowed, "TRACKING_METRICS_DIR": str(work / "metrics"),
           "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex}
    with services.tracking_server(work, env) as url:
        yield url, ("admin", auth_env["MLFLOW_AUTH_ADMIN_PASSWORD"])


SERVICE_HOSTS = [f"{RELEASE}-tracking-server", f"{RELEASE}-tracking-server:5000",
                 f"{RELEASE}-tracking-server.ml.svc.cluster.local:5000", "mlflow.example.com"]


@pytest.mark.parametrize("host", SERVICE_HOSTS)
def test_auth_tracking_accepts_service_names_as_host(auth_tracking, host: str) -> None:
    url, login = auth_tracking
    answer = requests.get(f"{url}/api/2.0/mlflow/experiments/search?max_results=1", auth=login,
                          headers={"Host": host}, timeout=30)
    assert answer.status_code == 200, answer.text[:300]


def test_auth_tracking_rejects_foreign_hosts_and_anonymous_calls(auth_tracking) -> None:
    url, login = auth_tracking
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert requests.get(search, auth=login, headers={"Host": "attacker.example.net"}, timeout=30).status_code == 403
    assert requests.get(search, timeout=30).status_code == 401
    assert requests.get(search, auth=("admin", "wrong"), timeout=30).status_code == 401
    health = requests.get(f"{url}/health", headers={"Host": "10.244.0.9:5000"}, timeout=30)
    assert health.status_code == 200  # kubelet probes: /health needs neither a known Host nor a login
    assert requests.get(f"{url}/metrics", auth=login, timeout=30).status_code == 200


def test_helm_test_script_passes_against_the_auth_tracking_server(auth_tracking) -> None:
    url, (user, password) = auth_tracking
    proc = run_script("check_tracking.py", {"MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_USERNAME": user,
                                            "MLFLOW_TRACKING_PASSWORD": password})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_script("check_tracking.py", {"MLFLOW_TRACKING_URI": url})
    assert proc.returncode == 1 and "HTTP 401" in proc.stderr


def test_rollout_follows_the_real_registry_alias(auth_tracking, kube_api) -> None:
    url, login = auth_tracking
    server, kenv, deployment = kube_api
    name = f"chart-model-{uuid.uuid4().hex[:6]}"
    api = f"{url}/api/2.0/mlflow"
    env = {**kenv, "MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_USERNAME": login[0],
           "MLFLOW_TRACKING_PASSWORD": login[1], "SERVE_MODEL_NAME": name, "SERVE_ALIAS": "champion"}

    proc = run_script("rollout_model_server.py", env)  # no such model yet
    assert proc.returncode == 0, proc.stderr
    assert "does not exist yet" in proc.stdout and not server.requests

    requests.post(f"{api}/registered-models/create", json={"name": name}, auth=login, timeout=30).raise_for_status()
    run = requests.post(f"{api}/runs/create", json={"experiment_id": "0"}, auth=login, timeout=30)
    assert run.status_code == 200, run.text[:500]
    run_id = run.json()["run"]["info"]["run_id"]
    for _ in range(2):
        created = requests.post(f"{api}/model-versions/create", auth=login, timeout=30,
                                json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})
        assert created.status_code == 200, created.text[:500]
    requests.post(f"{api}/registered-models/alias", auth=login, timeout=30,
                  json={"name": name, "alias": "champion", "version": "1"}).raise_for_status()

    proc = run_script("rollout_model_server.py", env)
    assert proc.returncode == 0, proc.stderr
    patches = [r for r in server.requests if r["method"] == "PATCH"]
    assert len(patches) == 1
    assert patches[0]["headers"]["Content-Type"] == "application/strategic-merge-patch+json"
    assert patches[0]["headers"]["Authorization"] == "Bearer test-token"
    assert patches[0]["body"] == {"spec": {"template": {"metadata": {"annotations": {
        "pycaret-mlops/champion-version": "1"}}}}}

    proc = run_script("rollout_model_server.py", env)  # same champion: nothing to roll
    assert proc.returncode == 0 and "nothing to do" in proc.stdout
    assert len([r for r in server.requests if r["method"] == "PATCH"]) == 1

    requests.post(f"{api}/registered-models/alias", auth=login, timeout=30,
                  json={"name": name, "alias": "champion", "version": "2"}).raise_for_status()
    proc = run_script("rollout_model_server.py", env)
    assert proc.returncode == 0 and "version 2 (was 1)" in proc.stdout
    assert deployment["spec"]["template"]["metadata"]["annotations"]["pycaret-mlops/champion-version"] == "2"


# --- rollout_model_server.py error paths ----------------------------------------------------------


def test_rollout_fails_loudly_when_rbac_denies(fake: FakeServer, kube_api) -> None:
    server, kenv, _ = kube_api
    fake.routes[("GET", "/api/2.0/mlflow/registered-models/alias")] = (200, {"model_version": {"version": "3"}})
    server.routes[("PATCH", f"/apis/apps/v1/namespaces/ml/deployments/{RELEASE}-model-server")] = (
        403, {"reason": "Forbidden"})
    proc = run_script("rollout_model_server.py", {**kenv, "MLFLOW_TRACKING_URI": fake.url,
                                                  "SERVE_MODEL_NAME": "m", "SERVE_ALIAS": "champion"})
    assert proc.returncode == 1
    assert "HTTP 403" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_rollout_fails_when_the_tracking_server_errors(fake: FakeServer, kube_api) -> None:
    _, kenv, _ = kube_api
    fake.routes[("GET", "/api/2.0/mlflow/registered-models/alias")] = (500, {"error_code": "INTERNAL_ERROR"})
    proc = run_script("rollout_model_server.py", {**kenv, "MLFLOW_TRACKING_URI": fake.url,
                                                  "SERVE_MODEL_NAME": "m", "SERVE_ALIAS": "champion"})
    assert proc.returncode == 1 and "HTTP 500" in proc.stderr


# --- score_rows.py (helm test of the model server) ------------------------------------------------


def _scoring_csv(tmp_path: Path) -> tuple[Path, list[str], int]:
    docs = render()
    (scripts,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"{RELEASE}-scripts"]
    path = tmp_path / "scoring.csv"
    path.write_text(scripts["data"]["scoring.csv"])
    lines = [line for line in path.read_text().splitlines() if line]
    return path, lines[0].split(","), len(lines) - 1


def test_score_rows_posts_dataframe_split(fake: FakeServer, tmp_path: Path) -> None:
    csv_path, columns, rows = _scoring_csv(tmp_path)
    fake.routes[("POST", "/invocations")] = lambda req: (
        200, {"predictions": [{"prediction_label": 0}] * len(req["body"]["dataframe_split"]["data"])})
    proc = run_script("score_rows.py", {"MODEL_SERVER_URL": fake.url, "SCORING_CSV": str(csv_path)})
    assert proc.returncode == 0, proc.stderr
    (request,) = fake.requests
    assert request["headers"]["Content-Type"] == "application/json"
    split = request["body"]["dataframe_split"]
    assert split["columns"] == columns and len(columns) == 30 and "mean radius" in columns
    assert len(split["data"]) == rows == 2
    assert all(isinstance(v, (int, float)) for row in split["data"] for v in row)
    assert f"{rows} rows scored" in proc.stdout


@pytest.mark.parametrize("status,answer", [(200, {"predictions": [1]}), (500, {"error_code": "BAD"}),
                                           (200, {"unexpected": True})])
def test_score_rows_fails_on_a_wrong_answer(fake: FakeServer, tmp_path: Path, status: int, answer: dict) -> None:
    csv_path, _, _ = _scoring_csv(tmp_path)
    fake.routes[("POST", "/invocations")] = (status, answer)
    proc = run_script("score_rows.py", {"MODEL_SERVER_URL": fake.url, "SCORING_CSV": str(csv_path)})
    assert proc.returncode == 1 and proc.stderr.startswith("test-score:")


def test_model_server_fails_at_once_when_the_tracking_server_refuses_it(auth_tracking) -> None:
    """Wrong credentials are not waited out (SERVE_WAIT_TIMEOUT is long) and not called 'does not exist'."""
    url, (user, _) = auth_tracking
    proc = services.serve_until_it_gives_up(
        "any", wait_timeout=600,
        MLFLOW_TRACKING_URI=url, MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD="wrong",
    )
    assert proc.returncode == 1
    assert "error: the tracking server refused access to model 'any'" in proc.stderr
    assert "does not exist" not in proc.stderr
