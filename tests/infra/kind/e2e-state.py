"""Print what the tracking server holds, as JSON (run inside the tracking-server pod by
tests/infra/kind/e2e.sh, before and after PostgreSQL and MinIO are restarted):
experiments, runs, registered model versions with their aliases, the artifact listing of
every model version's run, and the sha256 of each model version's MLmodel file (read back
through the server's artifact proxy, so from MinIO)."""
import hashlib
import json
import os
import tempfile

from mlflow.tracking import MlflowClient

client = MlflowClient()
state = {"experiments": {}, "runs": {}, "models": {}, "artifacts": {}, "mlmodel_sha256": {}}
for exp in client.search_experiments():
    state["experiments"][exp.experiment_id] = exp.name
    for run in client.search_runs([exp.experiment_id], max_results=1000):
        state["runs"][run.info.run_id] = run.info.status


def listing(run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.extend(listing(run_id, f.path) if f.is_dir else [f"{f.path}:{f.file_size}"])
    return out


for model in client.search_registered_models():
    versions = client.search_model_versions(f"name='{model.name}'")
    state["models"][model.name] = {
        "versions": sorted(v.version for v in versions),
        "aliases": dict(sorted((model.aliases or {}).items())),
    }
    for v in versions:
        if v.run_id and v.run_id not in state["artifacts"]:
            state["artifacts"][v.run_id] = sorted(listing(v.run_id))
        with tempfile.TemporaryDirectory() as tmp:
            from mlflow.artifacts import download_artifacts

            local = download_artifacts(artifact_uri=f"models:/{model.name}/{v.version}", dst_path=tmp)
            with open(os.path.join(local, "MLmodel"), "rb") as fh:
                state["mlmodel_sha256"][f"{model.name}/{v.version}"] = hashlib.sha256(fh.read()).hexdigest()
print(json.dumps(state, sort_keys=True))
