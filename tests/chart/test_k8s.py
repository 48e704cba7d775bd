"""k8s/: the cluster targets (k8s/cluster.mk, dry-run with `make -n`), the pod `make predict`
starts, the example training Job, the namespace and the kind config, checked against what
the chart renders with the same settings. `make e2e` cannot run here (no cluster, no
registry); this is its line-by-line review in executable form."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.chart.conftest import CHART, REPO, Tools
from tests.chart.manifests import PodTemplate, env_value, ingress_allowed, of_kind, pod_templates

K8S = REPO / "k8s"
TAG = "0.1.0-abc1234"
RELEASE = "mlops"
NAMESPACE = "pycaret-mlops"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`make -n <target>` of each cluster target, through a Makefile that includes
    docker/images.mk and k8s/cluster.mk as the root Makefile does."""
    work = tmp_path_factory.mktemp("make")
    makefile = work / "Makefile"
    makefile.write_text(f"SHELL := /bin/bash\ninclude {REPO}/docker/images.mk\ninclude {K8S}/cluster.mk\n")
    out = {}
    for target in ("up", "train", "predict", "helm-test", "down", "e2e"):
        proc = subprocess.run(["make", "-n", "-f", str(makefile), target, f"VERSION={TAG}"],
                              capture_output=True, text=True, cwd=work)
        assert proc.returncode == 0, proc.stderr
        out[target] = proc.stdout
    return out


def _helm_command(text: str) -> list[str]:
    (line,) = [line for line in _joined(text) if '"$HELM" upgrade --install' in line]
    command = line[line.index('"$HELM" upgrade'):].split(";")[0]
    return shlex.split(command)


def _joined(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def _render(tools: Tools, args: list[str]) -> list[dict]:
    proc = subprocess.run([tools.helm, "template", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def up_release(dry_run: dict[str, str], tools: Tools) -> tuple[list[str], list[dict]]:
    """The exact `helm upgrade --install` of `make up`, rendered with helm template."""
    command = _helm_command(dry_run["up"])
    assert command[:4] == ['$HELM', "upgrade", "--install", RELEASE]
    chart = Path(command[4])
    assert chart == CHART
    sets, i = [], 5
    while i < len(command):
        if command[i] in ("--set", "--set-string", "-f", "--values", "-n", "--namespace"):
            sets += [command[i], command[i + 1]]
            i += 2
        else:
            i += 1
    docs = _render(tools, [RELEASE, str(chart), *sets])
    return command, docs


def test_up_loads_every_image_the_release_runs(dry_run: dict[str, str], up_release) -> None:
    _, docs = up_release
    (images,) = re.findall(r"for image in (.*?); do", " ".join(_joined(dry_run["up"])))
    loaded = {word.strip("'") for word in images.split()}
    assert loaded, dry_run["up"]
    used = {c["image"] for p in pod_templates(docs) for c in p.containers()}
    assert used <= loaded, used - loaded
    assert {f"pycaret-mlops/{n}:{TAG}" for n in ("tracking-server", "trainer", "model-server", "minio")} <= loaded


def test_up_installs_into_the_kind_cluster_and_waits(dry_run: dict[str, str], up_release) -> None:
    command, docs = up_release
    assert ["--kube-context", "kind-pycaret-mlops"] == command[command.index("--kube-context"):][:2]
    assert command[command.index("-n") + 1] == NAMESPACE
    assert "--wait=watcher" in command and "--wait-for-jobs" in command
    text = dry_run["up"]
    assert "kind-config.yaml" in text and "namespace.yaml" in text and "--name 'pycaret-mlops'" in text
    deployments = of_kind(docs, "Deployment")
    for name in re.findall(r"rollout status deployment/'([^']+)'", text):
        assert name in deployments, name


def test_train_starts_the_rendered_cronjob_and_follows_the_rollout(dry_run: dict[str, str], up_release) -> None:
    _, docs = up_release
    text = dry_run["train"]
    (cron,) = re.findall(r"create job --from=cronjob/'([^']+)'", text)
    assert cron in of_kind(docs, "CronJob")
    for name in re.findall(r"deployment/?'([^']+)'", text):
        assert name in of_kind(docs, "Deployment"), name
    assert "--all-containers" in text  # the trainer is an init container, the rollout step the main one
    assert '*" Failed "*) result=failed' in text and "Complete" in text
    assert f"--context kind-pycaret-mlops -n {NAMESPACE}" in text


def _predict_pod(release: str = RELEASE) -> dict:
    text = (K8S / "predict-pod.yaml").read_text()
    text = text.replace("@POD@", f"{release}-predict-1").replace("@RELEASE@", release)
    return yaml.safe_load(text.replace("@IMAGE@", f"pycaret-mlops/model-server:{TAG}"))


def test_predict_substitutes_every_placeholder(dry_run: dict[str, str]) -> None:
    text = dry_run["predict"]
    placeholders = set(re.findall(r"@[A-Z]+@", (K8S / "predict-pod.yaml").read_text()))
    assert placeholders == {"@POD@", "@RELEASE@", "@IMAGE@"}
    for placeholder in placeholders:
        assert f"s|{placeholder}|" in text, placeholder
    assert f"s|@IMAGE@|pycaret-mlops/model-server:{TAG}|g" in text


def test_predict_pod_reaches_the_model_server(up_release) -> None:
    _, docs = up_release
    pod = _predict_pod()
    client = PodTemplate("Pod", pod["metadata"]["name"], pod["metadata"]["labels"], pod["spec"])
    policies = list(of_kind(docs, "NetworkPolicy").values())
    (server,) = [p for p in pod_templates(docs) if p.kind == "Deployment" and p.component == "model-server"]
    assert ingress_allowed(policies, client, server, 8080)
    (tracking,) = [p for p in pod_templates(docs) if p.kind == "Deployment" and p.component == "tracking-server"]
    assert not ingress_allowed(policies, client, tracking, 5000)
    container = pod["spec"]["containers"][0]
    assert container["command"][0] == "mlops-score"
    url = urlsplit(container["command"][1])
    service = of_kind(docs, "Service")[url.hostname]
    assert url.port in [p["port"] for p in service["spec"]["ports"]]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "model-server"
    rows = [v for v in pod["spec"]["volumes"] if v["name"] == "rows"][0]["configMap"]
    assert rows["items"][0]["key"] in of_kind(docs, "ConfigMap")[rows["name"]]["data"]
    assert container["command"][2:] == ["--csv", "/rows/scoring.csv"]


def test_example_training_job_matches_the_release(tools: Tools) -> None:
    docs = _render(tools, [RELEASE, str(CHART), "-n", NAMESPACE])
    job = yaml.safe_load((K8S / "training-job.yaml").read_text())
    spec = job["spec"]["template"]["spec"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    client = PodTemplate("Job", "example", labels, spec)
    (tracking,) = [p for p in pod_templates(docs) if p.kind == "Deployment" and p.component == "tracking-server"]
    assert ingress_allowed(list(of_kind(docs, "NetworkPolicy").values()), client, tracking, 5000)
    (container,) = spec["containers"]
    uri = urlsplit(env_value(container, "MLFLOW_TRACKING_URI"))
    assert uri.hostname == tracking.name and uri.port == 5000
    assert spec["serviceAccountName"] in of_kind(docs, "ServiceAccount")
    config = [v for v in spec["volumes"] if "configMap" in v][0]["configMap"]["name"]
    assert config in of_kind(docs, "ConfigMap")
    assert container["image"].startswith("pycaret-mlops/trainer:")
    from training.config import TrainSettings

    for entry in container["env"]:
        if entry["name"].startswith("TRAIN_"):
            assert entry["name"].removeprefix("TRAIN_").lower() in TrainSettings.model_fields, entry["name"]


@pytest.mark.parametrize("name", ["predict-pod.yaml", "training-job.yaml", "namespace.yaml"])
def test_k8s_manifests_are_valid_and_restricted(tools: Tools, name: str) -> None:
    if name == "predict-pod.yaml":
        doc = _predict_pod()
    else:
        doc = yaml.safe_load((K8S / name).read_text())
        if "generateName" in doc["metadata"]:
            doc["metadata"]["name"] = doc["metadata"]["generateName"] + "x"
    for kube, folder in tools.schema_dirs.items():
        proc = subprocess.run(
            [tools.kubeconform, "-strict", "-summary", "-schema-location",
             f"{folder}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", "-"],
            input=yaml.safe_dump(doc), capture_output=True, text=True,
        )
        assert proc.returncode == 0 and "Valid: 1" in proc.stdout, (kube, proc.stdout)
    if doc["kind"] == "Namespace":
        assert doc["metadata"]["name"] == NAMESPACE
        assert doc["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        return
    spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Job" else doc["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_defaults_agree_with_the_chart() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    mk = (K8S / "cluster.mk").read_text()
    pg = values["postgresql"]["image"]
    assert re.search(rf"^POSTGRES_IMAGE\s+\?= {re.escape(pg['repository'])}:{re.escape(pg['tag'])}$", mk, re.M)
    assert re.search(r"^CLUSTER\s+\?= pycaret-mlops$", mk, re.M)
    assert re.search(rf"^K8S_NAMESPACE\s+\?= {NAMESPACE}$", mk, re.M)
    kind = yaml.safe_load((K8S / "kind-config.yaml").read_text())
    assert kind["kind"] == "Cluster" and kind["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert kind["name"] == "pycaret-mlops" and len(kind["nodes"]) >= 1
    assert values["modelServer"]["service"]["port"] == 8080  # predict-pod.yaml's URL
    tools = (REPO / "tests" / "infra" / "chart-tools.sh").read_text()
    assert "KIND_VERSION=v0.30.0" in tools


def test_e2e_runs_the_steps_in_order(dry_run: dict[str, str]) -> None:
    assert "bash tests/infra/kind/e2e.sh" in dry_run["e2e"]
    assert "VERSION='0.1.0-" in dry_run["e2e"]  # one image tag for every step of the run
    script = (REPO / "tests" / "infra" / "kind" / "e2e.sh").read_text()
    steps = ['make -C "$ROOT" up', 'make -C "$ROOT" train', 'make -C "$ROOT" predict',
             'make -C "$ROOT" helm-test', "delete pod -l", '[ "$before" = "$after" ]']
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions), positions
    for target, marker in (("up", "upgrade --install"), ("train", "create job --from=cronjob/"),
                           ("predict", "predict-pod.yaml"), ("helm-test", '"$HELM" test')):
        assert marker in dry_run[target], target
    assert "--logs" in dry_run["helm-test"]
    assert "delete cluster --name 'pycaret-mlops'" in dry_run["down"]


def test_settings_the_chart_passes_exist_in_the_programs(tools: Tools) -> None:
    """Every TRACKING_*, SERVE_* and TRAIN_* setting the chart renders is a field of the
    program's settings class (a typo would be silently ignored by pydantic-settings)."""
    from serving.model_server import ServeSettings
    from serving.tracking_server import TrackingSettings
    from training.config import TrainSettings

    docs = _render(tools, [RELEASE, str(CHART), "-f", str(CHART / "ci" / "auth-values.yaml")])
    classes = {"TRACKING_": TrackingSettings, "SERVE_": ServeSettings, "TRAIN_": TrainSettings}
    seen = set()
    for pod in pod_templates(docs):
        for c in pod.containers():
            if "command" in c:  # the chart's own scripts read some of these names too
                continue
            for entry in c.get("env", []):
                for prefix, cls in classes.items():
                    if entry["name"].startswith(prefix):
                        field = entry["name"].removeprefix(prefix).lower()
                        assert field in cls.model_fields, f"{pod.name}/{c['name']}: {entry['name']}"
                        seen.add(entry["name"])
    assert {"TRACKING_ALLOWED_HOSTS", "SERVE_WAIT_TIMEOUT", "TRAIN_CONFIG", "TRACKING_DB_WAIT_TIMEOUT"} <= seen
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-train-config")]
    for key in yaml.safe_load(config["data"]["config.yaml"]):
        assert key in TrainSettings.model_fields, key


def _cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def _pod_cpu_request(spec: dict) -> int:
    """What the scheduler reserves: the larger of the biggest init container and the containers' sum."""
    def request(c: dict) -> int:
        return _cpu_millis(str(c.get("resources", {}).get("requests", {}).get("cpu", "0")))
    init = max((request(c) for c in spec.get("initContainers", [])), default=0)
    return max(init, sum(request(c) for c in spec["containers"]))


def test_up_release_fits_a_two_cpu_kind_node(up_release) -> None:
    """The release's CPU requests leave room for kind's control plane on 2 CPUs in each phase of
    `make e2e`; otherwise a pod stays Pending (MinIO did, once, and the training failed)."""
    _, docs = up_release
    control_plane = 250 + 200 + 100 + 100 + 2 * 100  # apiserver, controller-manager, scheduler, etcd, 2x coredns
    cpu = {(p.kind, p.name): _pod_cpu_request(p.spec) for p in pod_templates(docs)}
    assert all(cpu.values()), [name for name, m in cpu.items() if not m]
    deployments = of_kind(docs, "Deployment")
    steady = sum(m * deployments[name]["spec"].get("replicas", 1) for (kind, name), m in cpu.items() if kind == "Deployment")
    steady += sum(m for (kind, _), m in cpu.items() if kind == "StatefulSet")
    model_server = next(m for (kind, name), m in cpu.items() if kind == "Deployment" and name.endswith("-model-server"))
    phases = {
        "helm install": sum(m for (kind, _), m in cpu.items() if kind == "Job"),
        "make train (and the rollout's surge pod)": next(m for (kind, _), m in cpu.items() if kind == "CronJob") + model_server,
        "make predict, helm test": _pod_cpu_request(_predict_pod()["spec"]) + sum(m for (kind, _), m in cpu.items() if kind == "Pod"),
    }
    for phase, extra in phases.items():
        assert control_plane + steady + extra <= 2000, f"{phase}: the release requests {steady + extra}m CPU"
