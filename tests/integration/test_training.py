"""The trainer against a real tracking server (PostgreSQL store, artifacts proxied into MinIO)."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes

from tests.conftest import BUCKET
from tests.integration.helpers import aliases, parent_runs, runs, train, versions

pytestmark = pytest.mark.integration


def test_classification_is_logged_registered_and_promoted(tracking_uri: str, minio, model_name: str) -> None:
    assert train(model_name, "--data", "sklearn:breast_cancer", "--models", "lr,dt") == 0

    client = MlflowClient()
    [run] = parent_runs(model_name)
    assert run.info.status == "FINISHED"
    assert run.data.params["task"] == "classification"
    assert run.data.params["metric"] == "AUC"
    assert run.data.params["best_model"] == "Logistic Regression"
    assert 0.95 < run.data.metrics["holdout_auc"] <= 1.0
    assert 0.85 < run.data.metrics["holdout_accuracy"] <= 1.0
    assert run.data.tags["promotion.decision"] == "champion"

    nested = [r for r in runs(model_name) if r.data.tags.get("mlflow.parentRunId") == run.info.run_id]
    assert sorted(r.data.params["model_id"] for r in nested) == ["dt", "lr"]
    assert all(0.5 < r.data.metrics["cv_auc"] <= 1.0 for r in nested)

    [dataset] = run.inputs.dataset_inputs
    assert dataset.dataset.name == "breast_cancer"
    assert len(dataset.dataset.digest) > 0
    schema_columns = [c["name"] for c in json.loads(dataset.dataset.schema)["mlflow_colspec"]]
    assert "mean radius" in schema_columns and "target" in schema_columns

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"leaderboard.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/confusion_matrix.png", "plots/roc.png"} <= plots

    assert versions(model_name) == ["1"]
    assert aliases(model_name) == {"champion": "1"}
    version = client.get_model_version(model_name, "1")
    assert version.run_id == run.info.run_id
    assert float(version.tags["holdout_auc"]) == pytest.approx(run.data.metrics["holdout_auc"], rel=1e-5)
    assert version.tags["dataset_digest"] == dataset.dataset.digest
    assert version.tags["code_version"].startswith("0.1.0")

    # Artifacts went through the tracking server into the MinIO bucket.
    keys = [o["Key"] for o in minio.client().list_objects_v2(Bucket=BUCKET, Prefix="artifacts/")["Contents"]]
    assert any(key.endswith("/MLmodel") for key in keys)
    assert any(key.endswith("plots/roc.png") for key in keys)


def test_regression_and_the_gate(tracking_uri: str, model_name: str) -> None:
    assert train(model_name, "--data", "sklearn:diabetes", "--models", "lr") == 0
    assert aliases(model_name) == {"champion": "1"}

    # A worse model (a decision tree on this data) becomes challenger; champion stays.
    assert train(model_name, "--data", "sklearn:diabetes", "--models", "dt") == 0
    assert versions(model_name) == ["1", "2"]
    assert aliases(model_name) == {"champion": "1", "challenger": "2"}
    latest = max(parent_runs(model_name), key=lambda r: r.info.start_time)
    assert latest.data.tags["promotion.decision"] == "challenger"
    assert latest.data.metrics["holdout_r2"] < latest.data.metrics["champion_holdout_r2"]
    assert "candidate holdout_r2" in latest.data.tags["promotion.reason"]

    # The same model again is at least as good: it takes the champion alias.
    assert train(model_name, "--data", "sklearn:diabetes", "--models", "lr") == 0
    assert aliases(model_name) == {"champion": "3", "challenger": "2"}


def test_csv_from_minio(tracking_uri: str, minio, model_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    minio.client().put_object(Bucket=BUCKET, Key="datasets/diabetes.csv", Body=data.to_csv(index=False).encode())
    for name, value in minio.env.items():
        monkeypatch.setenv(name, value)

    code = train(model_name, "--data", f"s3://{BUCKET}/datasets/diabetes.csv", "--target", "progression", "--models", "lr")

    assert code == 0
    [run] = parent_runs(model_name)
    assert run.data.params["task"] == "regression"
    assert run.data.params["rows"] == "442"
    assert run.inputs.dataset_inputs[0].dataset.name == "diabetes"
    assert aliases(model_name) == {"champion": "1"}


def test_missing_s3_object_is_a_data_error(tracking_uri: str, minio, model_name: str, monkeypatch) -> None:
    for name, value in minio.env.items():
        monkeypatch.setenv(name, value)
    assert train(model_name, "--data", f"s3://{BUCKET}/datasets/none.csv", "--target", "y") == 3
    [run] = parent_runs(model_name)
    assert run.info.status == "FAILED"
    assert "NoSuchKey" in run.data.tags["mlops.error"]


@pytest.mark.parametrize(
    ("csv", "args", "task", "metric", "best_one_of"),
    [
        ("insurance.csv", ["--target", "charges"], "regression", "holdout_r2", {"Random Forest Regressor", "Gradient Boosting Regressor", "Decision Tree Regressor"}),
        ("juice.csv", ["--target", "Purchase", "--ignore", "Id"], "classification", "holdout_auc", {"Logistic Regression", "Random Forest Classifier", "Decision Tree Classifier"}),
    ],
)
def test_shared_real_datasets(
    tracking_uri: str, datasets_dir, model_name: str, csv: str, args: list[str], task: str, metric: str, best_one_of: set
) -> None:
    models = "rf,dt,gbr" if task == "regression" else "lr,rf,dt"
    assert train(model_name, "--data", str(datasets_dir / csv), *args, "--models", models) == 0
    [run] = parent_runs(model_name)
    assert run.data.params["task"] == task
    assert run.data.params["best_model"] in best_one_of
    assert run.data.metrics[metric] > 0.7
    assert aliases(model_name) == {"champion": "1"}
    inputs = mlflow.models.get_model_info(f"models:/{model_name}/1").signature.inputs.input_names()
    assert "Id" not in inputs and len(inputs) == (17 if csv == "juice.csv" else 6)
