"""Wiring of the rendered chart: addresses, Secrets, images, probes, security, allowed hosts,
training and rollout, NetworkPolicies. Runs on the defaults and on every helm/pycaret-mlops/ci
value set."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.chart.conftest import CHART, NAMESPACE, RELEASE, Tools, render, values_of
from tests.chart.manifests import (
    PodTemplate,
    env_of,
    env_value,
    ingress_allowed,
    mlflow_host_allowed,
    of_kind,
    pod_templates,
    selects,
    service_targets,
)

APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
PROJECT_IMAGES = {
    "trackingServer": "pycaret-mlops/tracking-server",
    "trainer": "pycaret-mlops/trainer",
    "modelServer": "pycaret-mlops/model-server",
    "minio": "pycaret-mlops/minio",
}
URL_VARS = {"MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "MODEL_SERVER_URL"}
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|BACKEND_STORE_URI")


@pytest.fixture
def chart(value_set: tuple[str, Path | None]) -> tuple[list[dict], dict, str]:
    name, path = value_set
    return render(path), values_of(path), name


def fullname(values: dict) -> str:
    return (values["fullnameOverride"] or RELEASE)[:30].rstrip("-")


# --- addresses --------------------------------------------------------------------------------------


def _check_address(docs: list[dict], pods: list[PodTemplate], host: str, port: int, where: str) -> PodTemplate:
    services = of_kind(docs, "Service")
    assert host in services, f"{where}: {host} is not a Service of the chart ({sorted(services)})"
    service = services[host]
    (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == port] or [None]
    assert service_port, f"{where}: Service {host} has no port {port}"
    targets = service_targets(service, pods)
    assert len(targets) == 1, f"{where}: Service {host} selects {[t.name for t in targets]}"
    target_port = targets[0].ports().get(str(service_port["targetPort"]))
    assert target_port, f"{where}: {host}:{port} -> targetPort {service_port['targetPort']} not on {targets[0].name}"
    return targets[0]


def test_every_address_names_a_rendered_service_and_port(chart) -> None:
    docs, values, _ = chart
    pods = list(pod_templates(docs))
    prefix = fullname(values) + "-"
    checked = 0
    for pod in pods:
        for c in pod.containers():
            env = env_of(c)
            for name, entry in env.items():
                value = entry.get("value") or ""
                if name in URL_VARS or re.match(r"^https?://", value):
                    parts = urlsplit(value)
                    if "." in (parts.hostname or "") and not parts.hostname.startswith(prefix):
                        continue  # an external endpoint from the values
                    assert parts.scheme == "http", f"{pod.name}/{c['name']} {name}={value}"
                    _check_address(docs, pods, parts.hostname, parts.port, f"{pod.name}/{c['name']} {name}")
                    checked += 1
            if "TRACKING_DB_HOST" in env and values["postgresql"]["enabled"]:
                host, port = env["TRACKING_DB_HOST"]["value"], int(env["TRACKING_DB_PORT"]["value"])
                target = _check_address(docs, pods, host, port, f"{pod.name}/{c['name']} TRACKING_DB_HOST")
                assert target.component == "postgresql"
                checked += 1
    assert checked >= 3


def test_component_addresses_land_on_the_right_component(chart) -> None:
    docs, values, _ = chart
    pods = list(pod_templates(docs))
    fn = fullname(values)
    expected = {"MLFLOW_TRACKING_URI": "tracking-server", "MODEL_SERVER_URL": "model-server"}
    if values["minio"]["enabled"]:
        expected["MLFLOW_S3_ENDPOINT_URL"] = "minio"
    for pod in pods:
        for c in pod.containers():
            for var, component in expected.items():
                value = env_value(c, var)
                if value is None:
                    continue
                parts = urlsplit(value)
                assert parts.hostname == f"{fn}-{component}", (pod.name, var, value)
                assert _check_address(docs, pods, parts.hostname, parts.port, var).component == component


def test_external_endpoints_come_from_the_values(chart) -> None:
    docs, values, _ = chart
    tracking = _tracking(docs, values)
    env = env_of(tracking.container("tracking-server"))
    if not values["postgresql"]["enabled"]:
        ext = values["externalDatabase"]
        if ext["uriSecret"]["name"]:
            assert env["TRACKING_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == ext["uriSecret"]
            assert "TRACKING_DB_HOST" not in env
        else:
            assert env["TRACKING_DB_HOST"]["value"] == ext["host"]
            assert env["TRACKING_DB_PORT"]["value"] == str(ext["port"])
            assert env["TRACKING_DB_NAME"]["value"] == ext["database"]
            assert env["TRACKING_DB_USER"]["value"] == ext["user"]
    if not values["minio"]["enabled"]:
        endpoint = values["externalS3"]["endpoint"]
        assert env_value(tracking.container("tracking-server"), "MLFLOW_S3_ENDPOINT_URL") == (endpoint or None)
        assert not [d for d in docs if d["kind"] == "StatefulSet" and "minio" in d["metadata"]["name"]]
    bucket, path = values["artifacts"]["bucket"], values["artifacts"]["path"].strip("/")
    assert env["TRACKING_ARTIFACTS_DESTINATION"]["value"] == f"s3://{bucket}/{path}".rstrip("/")


def _tracking(docs: list[dict], values: dict) -> PodTemplate:
    (pod,) = [p for p in pod_templates(docs) if p.kind == "Deployment" and p.component == "tracking-server"]
    return pod


# --- Secrets and ConfigMaps ------------------------------------------------------------------------


def _external_secret_keys(values: dict) -> dict[str, set[str]]:
    """Secrets the user provides (existingSecret values) -> keys the chart may read from them."""
    out: dict[str, set[str]] = {}

    def add(name: str, *keys: str) -> None:
        if name:
            out.setdefault(name, set()).update(keys)

    pg, ext, minio, s3 = values["postgresql"], values["externalDatabase"], values["minio"], values["externalS3"]
    add(pg["auth"]["existingSecret"], pg["auth"]["passwordKey"])
    add(ext["existingSecret"], ext["passwordKey"])
    add(ext["uriSecret"]["name"], ext["uriSecret"]["key"])
    add(minio["auth"]["existingSecret"], minio["auth"]["rootUserKey"], minio["auth"]["rootPasswordKey"])
    add(s3["existingSecret"], s3["accessKeyIdKey"], s3["secretAccessKeyKey"])
    add(values["trackingServer"]["auth"]["existingSecret"], "admin-username", "admin-password", "flask-secret-key")
    add(values["training"]["dataS3"]["existingSecret"], "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    return out


def _secret_refs(docs: list[dict]) -> list[tuple[str, str, str]]:
    refs = []
    for pod in pod_templates(docs):
        for c in pod.containers():
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"], f"{pod.name}/{c['name']}/{e['name']}"))
        for v in pod.spec.get("volumes", []):
            if "secret" in v:
                for item in v["secret"].get("items", []):
                    refs.append((v["secret"]["secretName"], item["key"], f"{pod.name}/volume {v['name']}"))
    for monitor in of_kind(docs, "ServiceMonitor").values():
        for ep in monitor["spec"]["endpoints"]:
            for part in ep.get("basicAuth", {}).values():
                refs.append((part["name"], part["key"], "ServiceMonitor basicAuth"))
    return refs


def test_every_referenced_secret_and_key_exists(chart) -> None:
    docs, values, _ = chart
    secrets = of_kind(docs, "Secret")
    external = _external_secret_keys(values)
    refs = _secret_refs(docs)
    assert refs
    for name, key, where in refs:
        if name in secrets:
            data = {**secrets[name].get("data", {}), **secrets[name].get("stringData", {})}
            assert key in data, f"{where}: Secret {name} has no key {key}"
        else:
            assert name in external, f"{where}: Secret {name} is neither rendered nor an existingSecret value"
            assert key in external[name], f"{where}: key {key} of {name} is not the configured key"


def test_generated_secrets_are_kept_and_random(chart) -> None:
    docs, _, _ = chart
    for secret in of_kind(docs, "Secret").values():
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", secret["metadata"]["name"]
        for key, value in secret["data"].items():
            plain = base64.b64decode(value).decode()
            if key != "admin-username":
                assert len(plain) >= 20 and plain.isalnum(), (secret["metadata"]["name"], key)


def test_nothing_secret_in_configmaps_or_plain_env(chart) -> None:
    docs, _, _ = chart
    secret_values = {
        base64.b64decode(v).decode()
        for s in of_kind(docs, "Secret").values()
        for k, v in s["data"].items()
        if k != "admin-username"
    }
    for cm in of_kind(docs, "ConfigMap").values():
        text = yaml.safe_dump(cm["data"])
        assert not [v for v in secret_values if v in text], cm["metadata"]["name"]
        settings = yaml.safe_dump({k: v for k, v in cm["data"].items() if not k.endswith(".py")})
        assert not re.search(r"(?i)(password|secret|access_key)", settings), cm["metadata"]["name"]
    for pod in pod_templates(docs):
        for c in pod.containers():
            for e in c.get("env", []):
                if SECRETISH.search(e["name"]):
                    assert "value" not in e, f"{pod.name}/{c['name']}: {e['name']} is a literal value"
                    assert "secretKeyRef" in e["valueFrom"], e


def test_every_referenced_configmap_and_key_exists(chart) -> None:
    docs, _, _ = chart
    configmaps = of_kind(docs, "ConfigMap")
    for pod in pod_templates(docs):
        mounts = {m["name"] for c in pod.containers() for m in c.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
        volumes.update({claim: {"persistentVolumeClaim": {}} for claim in pod.claims})
        assert mounts <= set(volumes), f"{pod.name}: mounts without a volume: {mounts - set(volumes)}"
        assert set(volumes) <= mounts, f"{pod.name}: unused volumes: {set(volumes) - mounts}"
        sources = []
        for v in volumes.values():
            if "configMap" in v:
                sources.append(v["configMap"])
            for src in v.get("projected", {}).get("sources", []):
                if "configMap" in src:
                    sources.append(src["configMap"])
        for src in sources:
            if src["name"] == "kube-root-ca.crt":  # published into every namespace by Kubernetes
                continue
            assert src["name"] in configmaps, f"{pod.name}: ConfigMap {src['name']} not rendered"
            for item in src.get("items", []):
                assert item["key"] in configmaps[src["name"]]["data"], (pod.name, src["name"], item["key"])


def test_scripts_in_the_configmap_are_the_chart_files(chart) -> None:
    docs, values, _ = chart
    scripts = of_kind(docs, "ConfigMap")[f"{fullname(values)}-scripts"]["data"]
    for name in ("create_bucket.py", "write_auth_config.py", "rollout_model_server.py", "check_tracking.py", "score_rows.py"):
        assert scripts[name].strip() == (CHART / "files" / name).read_text().strip()
        compile(scripts[name], name, "exec")
    rows = list(filter(None, scripts["scoring.csv"].splitlines()))
    assert len(rows) >= 2 and all(len(r.split(",")) == len(rows[0].split(",")) for r in rows)


# --- images, probes, security ----------------------------------------------------------------------

DOCKERFILES = {"tracking-server": "mlops-tracking-server", "trainer": "mlops-train", "model-server": "mlops-serve"}


@pytest.mark.parametrize("image,program", DOCKERFILES.items())
def test_image_entrypoints_run_the_contracted_programs(image: str, program: str) -> None:
    """The chart leaves `command` unset for these containers and relies on the image entrypoint."""
    dockerfile = CHART.parents[1] / "docker" / f"{image}.Dockerfile"
    entrypoints = [line for line in dockerfile.read_text().splitlines() if line.startswith("ENTRYPOINT")]
    assert entrypoints, f"{dockerfile} has no ENTRYPOINT"
    entry = json.loads(entrypoints[-1].removeprefix("ENTRYPOINT").strip())
    assert entry[:3] == ["tini", "-g", "--"], entry
    assert entry[-1] == program or f"exec {program} " in " ".join(entry), entry
    assert re.search(r"^USER 10001(:10001)?$", dockerfile.read_text(), re.M), dockerfile



def test_images_are_the_ones_make_images_builds(chart) -> None:
    docs, values, _ = chart
    tag = values["image"]["tag"] or APP_VERSION
    registry = values["image"]["registry"].rstrip("/")
    expected = {k: (f"{registry}/" if registry else "") + f"{repo}:{tag}" for k, repo in PROJECT_IMAGES.items()}
    postgres = f"{values['postgresql']['image']['repository']}:{values['postgresql']['image']['tag']}"
    by_component = {
        "tracking-server": "trackingServer", "create-bucket": "trackingServer", "trainer": "trainer",
        "model-server": "modelServer", "minio": "minio",
    }
    seen = set()
    for pod in pod_templates(docs):
        for c in pod.containers():
            image = c["image"]
            seen.add(image)
            assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1], image
            if pod.component == "postgresql":
                assert image == postgres and re.fullmatch(r"postgres:\d+\.\d+-\w+", image), image
            elif pod.component in by_component:
                assert image == expected[by_component[pod.component]], (pod.name, c["name"], image)
            else:
                assert image in expected.values(), (pod.name, image)
            if pod.spec.get("imagePullSecrets") or values["image"]["pullSecrets"]:
                assert pod.spec["imagePullSecrets"] == values["image"]["pullSecrets"]
    assert expected["trackingServer"] in seen


def test_long_running_containers_have_probes(chart) -> None:
    docs, _, _ = chart
    paths = {"tracking-server": "/health", "model-server": "/ping", "minio": "/minio/health/"}
    for pod in pod_templates(docs):
        if pod.kind not in ("Deployment", "StatefulSet"):
            continue
        for c in pod.spec["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in c, f"{pod.name}/{c['name']} has no {probe}"
                p = c[probe]
                if "httpGet" in p:
                    assert p["httpGet"]["path"].startswith(paths[pod.component]), (pod.name, probe, p)
                    assert str(p["httpGet"]["port"]) in pod.ports(), (pod.name, probe)
                else:
                    assert "pg_isready" in " ".join(p["exec"]["command"]), (pod.name, probe)


def test_security_contexts(chart) -> None:
    docs, values, _ = chart
    for pod in pod_templates(docs):
        psc = pod.spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, pod.name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, pod.name
        if pod.component not in ("postgresql",):
            assert psc["runAsUser"] == values["runAsUser"] == 10001 or psc["runAsUser"] == values["runAsUser"]
        assert pod.spec["automountServiceAccountToken"] is False, pod.name
        tmp = [v for v in pod.spec["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], pod.name
        for c in pod.containers():
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (pod.name, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (pod.name, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (pod.name, c["name"])
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, (pod.name, c["name"])
            assert sc.get("privileged") is False, (pod.name, c["name"])
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], (pod.name, c["name"])
            assert "resources" in c and c["resources"].get("limits", {}).get("memory"), (pod.name, c["name"])


def test_only_the_rollout_step_gets_an_api_token(chart) -> None:
    docs, _, _ = chart
    for pod in pod_templates(docs):
        for c in pod.containers():
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            has_token = "/var/run/secrets/kubernetes.io/serviceaccount" in mounts
            assert has_token == (c["name"] == "rollout-model-server"), (pod.name, c["name"])


# --- tracking server ------------------------------------------------------------------------------


def test_allowed_hosts_cover_the_service_dns_names(chart) -> None:
    docs, values, _ = chart
    tracking = _tracking(docs, values)
    allowed = env_value(tracking.container("tracking-server"), "TRACKING_ALLOWED_HOSTS").split(",")
    (service,) = [s for s in of_kind(docs, "Service").values()
                  if s["spec"]["selector"].get("app.kubernetes.io/component") == "tracking-server"]
    name, port = service["metadata"]["name"], service["spec"]["ports"][0]["port"]
    domain = values["clusterDomain"]
    for host in (name, f"{name}.{NAMESPACE}", f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.{domain}"):
        assert mlflow_host_allowed(allowed, host), host
        assert mlflow_host_allowed(allowed, f"{host}:{port}"), f"{host}:{port}"
    for pod in pod_templates(docs):  # the Host header every in-cluster client sends
        for c in pod.containers():
            uri = env_value(c, "MLFLOW_TRACKING_URI")
            if uri:
                assert mlflow_host_allowed(allowed, urlsplit(uri).netloc), (pod.name, uri)
    assert mlflow_host_allowed(allowed, "localhost:5000")  # kubectl port-forward
    ingress = values["trackingServer"]["ingress"]
    for entry in ingress["hosts"] if ingress["enabled"] else []:
        assert mlflow_host_allowed(allowed, entry["host"]), entry
    for extra in values["trackingServer"]["allowedHosts"]["extra"]:
        assert extra in allowed
    assert not mlflow_host_allowed(allowed, "attacker.example.net")
    assert not mlflow_host_allowed(allowed, f"{name}.evil.example.net:{port}")
    private = values["trackingServer"]["allowedHosts"]["privateIPs"]
    for ip in ("10.244.1.7:5000", "172.17.0.3:5000", "192.168.49.2:5000", "[fd00:10:244::5]:5000"):
        assert mlflow_host_allowed(allowed, ip) == private, ip
    assert not mlflow_host_allowed(allowed, "172.32.0.1:5000")


def test_tracking_server_settings(chart) -> None:
    docs, values, _ = chart
    ts = values["trackingServer"]
    pod = _tracking(docs, values)
    c = pod.container("tracking-server")
    env = env_of(c)
    assert "command" not in c and "args" not in c  # the image's entrypoint: tini -> mlops-tracking-server
    assert env["TRACKING_PORT"]["value"] == "5000" and pod.ports()["http"] == 5000
    assert env["TRACKING_HOST"]["value"] == "0.0.0.0"
    deployment = of_kind(docs, "Deployment")[pod.name]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if ts["metrics"]["enabled"]:
        metrics_dir = env["TRACKING_METRICS_DIR"]["value"]
        assert metrics_dir in {m["mountPath"] for m in c["volumeMounts"]}
    else:
        assert "TRACKING_METRICS_DIR" not in env
    if ts["auth"]["enabled"]:
        assert env["TRACKING_AUTH"]["value"] == "true"
        path = env["MLFLOW_AUTH_CONFIG_PATH"]["value"]
        init = pod.container("auth-config")
        assert env_value(init, "MLFLOW_AUTH_CONFIG_PATH") == path
        assert "write_auth_config.py" in " ".join(init["command"])
        shared = {m["name"] for m in init["volumeMounts"]} & {m["name"] for m in c["volumeMounts"]}
        (volume,) = [v for v in pod.spec["volumes"] if v["name"] in shared and v["name"] != "tmp"]
        assert volume["emptyDir"]["medium"] == "Memory"
        mount = [m for m in c["volumeMounts"] if m["name"] == volume["name"]][0]
        assert path.startswith(mount["mountPath"] + "/") and mount.get("readOnly")
        assert "MLFLOW_FLASK_SERVER_SECRET_KEY" in env
        # every MLflow client logs in
        for other in pod_templates(docs):
            for oc in other.containers():
                if env_value(oc, "MLFLOW_TRACKING_URI"):
                    assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= set(env_of(oc)), other.name
    else:
        assert "TRACKING_AUTH" not in env and [x["name"] for x in pod.containers()] == ["tracking-server"]
    ingresses = of_kind(docs, "Ingress")
    assert bool(ingresses) == ts["ingress"]["enabled"]
    for ing in ingresses.values():
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                assert p["backend"]["service"] == {"name": pod.name, "port": {"name": "http"}}


# --- training and the champion rollout ------------------------------------------------------------

TRAIN_KEYS = {
    "data", "target", "task", "ignore", "models", "folds", "metric", "tune", "budget_minutes", "seed",
    "experiment", "model_name", "promotion_margin", "tracking_timeout",
}


def test_training_job_and_cronjob_run_the_same(chart) -> None:
    docs, values, _ = chart
    fn = fullname(values)
    cronjobs, jobs = of_kind(docs, "CronJob"), of_kind(docs, "Job")
    training = values["training"]
    if not training["enabled"]:
        assert not cronjobs and not [j for j in jobs if j.startswith(f"{fn}-train")]
        assert not [p for p in pod_templates(docs) if p.component == "trainer"]
        return
    cron = cronjobs[f"{fn}-train"]
    assert cron["spec"]["suspend"] is training["cronJob"]["suspend"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    template = cron["spec"]["jobTemplate"]["spec"]
    if training["runOnInstall"]:
        job = jobs[f"{fn}-train-r1"]
        assert job["spec"] == template  # same pod, same command, same limits
    else:
        assert f"{fn}-train-r1" not in jobs
    spec = template["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    train = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == "train"][0]
    assert "command" not in train and "args" not in train  # the image's entrypoint: tini -> mlops-train
    config_path = env_value(train, "TRAIN_CONFIG")
    mount = [m for m in train["volumeMounts"] if config_path.startswith(m["mountPath"] + "/")][0]
    volume = [v for v in spec["volumes"] if v["name"] == mount["name"]][0]
    config = yaml.safe_load(of_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"][Path(config_path).name])
    assert set(config) <= TRAIN_KEYS and {"data", "target", "model_name"} <= set(config)
    assert config["data"] == training["data"] and config["folds"] == training["folds"]
    assert config.get("models", "") == ",".join(training["models"])
    assert config["model_name"] == values["model"]["name"]
    assert config.get("budget_minutes") == training["budgetMinutes"]  # null: no budget
    s3_data = training["data"].startswith("s3://")
    assert ("AWS_ACCESS_KEY_ID" in env_of(train)) == s3_data
    if s3_data and training["dataS3"]["existingSecret"]:
        assert env_of(train)["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == training["dataS3"]["existingSecret"]
    # the trainer and the model server agree on the registered model
    for pod in pod_templates(docs):
        if pod.component == "model-server":
            assert env_value(pod.container("model-server"), "SERVE_MODEL_NAME") == config["model_name"]


def test_champion_rollout_is_wired_to_the_model_server(chart) -> None:
    docs, values, _ = chart
    fn = fullname(values)
    if not (values["training"]["enabled"] and values["modelServer"]["enabled"]):
        assert not of_kind(docs, "Role")
        return
    deployment = of_kind(docs, "Deployment")[f"{fn}-model-server"]
    served = deployment["spec"]["template"]["spec"]["containers"][0]
    for pod in pod_templates(docs):
        if pod.component != "trainer":
            continue
        # trainer first (init container), rollout step only after it succeeded
        assert [c["name"] for c in pod.spec["initContainers"]] == ["train"]
        (rollout,) = pod.spec["containers"]
        assert rollout["name"] == "rollout-model-server"
        assert "rollout_model_server.py" in " ".join(rollout["command"])
        assert env_value(rollout, "MODEL_SERVER_DEPLOYMENT") == deployment["metadata"]["name"]
        assert env_value(rollout, "SERVE_MODEL_NAME") == env_value(served, "SERVE_MODEL_NAME")
        assert env_value(rollout, "SERVE_ALIAS") == env_value(served, "SERVE_ALIAS")
        assert env_value(rollout, "MLFLOW_TRACKING_URI") == env_value(served, "MLFLOW_TRACKING_URI")
        (token,) = [v for v in pod.spec["volumes"] if v["name"] == "kube-api-access"]
        assert any("serviceAccountToken" in s for s in token["projected"]["sources"])
        sa = pod.spec["serviceAccountName"]
        (binding,) = of_kind(docs, "RoleBinding").values()
        assert {"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE} in binding["subjects"]
        role = of_kind(docs, "Role")[binding["roleRef"]["name"]]
        assert role["rules"] == [{"apiGroups": ["apps"], "resources": ["deployments"],
                                  "resourceNames": [deployment["metadata"]["name"]], "verbs": ["get", "patch"]}]
    # the annotation the rollout step writes is not owned by the chart (helm upgrades keep it)
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    assert "pycaret-mlops/champion-version" not in annotations


def test_model_server_serving(chart) -> None:
    docs, values, _ = chart
    ms = values["modelServer"]
    deployments = of_kind(docs, "Deployment")
    name = f"{fullname(values)}-model-server"
    if not ms["enabled"]:
        assert name not in deployments
        return
    d = deployments[name]
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in c and "args" not in c  # the image's entrypoint: tini -> mlops-serve
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert c["readinessProbe"]["httpGet"]["path"] == "/ping"
    assert env_value(c, "SERVE_ALIAS") == ms["alias"]
    assert env_value(c, "SERVE_PORT") == "8080" and c["ports"][0]["containerPort"] == 8080
    startup = c["startupProbe"]
    assert int(env_value(c, "SERVE_WAIT_TIMEOUT")) < startup["periodSeconds"] * startup["failureThreshold"]
    # helm --wait must not call the rollout failed while the pods may still wait for a champion
    assert d["spec"]["progressDeadlineSeconds"] >= startup["periodSeconds"] * startup["failureThreshold"] + 60
    assert c["resources"]["requests"] and c["resources"]["limits"]
    hpas, pdbs = of_kind(docs, "HorizontalPodAutoscaler"), of_kind(docs, "PodDisruptionBudget")
    if ms["autoscaling"]["enabled"]:
        (hpa,) = hpas.values()
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in d["spec"]  # the HPA owns it
        assert hpa["spec"]["minReplicas"] == ms["autoscaling"]["minReplicas"]
    else:
        assert not hpas and d["spec"]["replicas"] == ms["replicas"]
    if ms["pdb"]["enabled"]:
        (pdb,) = pdbs.values()
        assert selects(pdb["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    else:
        assert not pdbs


# --- NetworkPolicies -------------------------------------------------------------------------------


def _outsiders(values: dict) -> list[PodTemplate]:
    fn = fullname(values)
    spec = {"containers": [{"name": "x", "ports": []}]}
    return [
        PodTemplate("Pod", "outsider", {"app": "something-else"}, spec),
        PodTemplate("Pod", "other-release-trainer", {
            "app.kubernetes.io/name": "pycaret-mlops", "app.kubernetes.io/instance": "other",
            "app.kubernetes.io/component": "trainer", "pycaret-mlops/tracking-client": "other"}, spec),
        # what `make predict` starts (k8s/cluster.mk)
        PodTemplate("Pod", "predict-client", {"pycaret-mlops/model-client": fn}, spec),
    ]


def _policy_matrix(docs: list[dict], values: dict) -> set[tuple[str, str]]:
    policies = list(of_kind(docs, "NetworkPolicy").values())
    pods = list(pod_templates(docs))
    servers = [p for p in pods if p.kind in ("Deployment", "StatefulSet")]
    sources = pods + _outsiders(values)
    allowed = set()
    for dest in servers:
        for port in set(dest.ports().values()):
            for src in sources:
                if src is not dest and ingress_allowed(policies, src, dest, port):
                    allowed.add((src.component or src.name, f"{dest.component}:{port}"))
    return allowed


def _expected_matrix(values: dict) -> set[tuple[str, str]]:
    expected = {("trainer", "tracking-server:5000"), ("test", "tracking-server:5000")}
    if not values["training"]["enabled"]:
        expected.discard(("trainer", "tracking-server:5000"))
    if values["postgresql"]["enabled"]:
        expected.add(("tracking-server", "postgresql:5432"))
    if values["minio"]["enabled"]:
        expected |= {("tracking-server", "minio:9000"), ("create-bucket", "minio:9000")}
        if values["training"]["enabled"] and values["training"]["data"].startswith("s3://"):
            expected.add(("trainer", "minio:9000"))
    if values["modelServer"]["enabled"]:
        expected |= {("model-server", "tracking-server:5000"), ("test", "model-server:8080"),
                     ("predict-client", "model-server:8080")}
    return expected


def test_network_policies_allow_exactly_the_designed_paths(chart) -> None:
    docs, values, _ = chart
    if not values["networkPolicy"]["enabled"]:
        assert not of_kind(docs, "NetworkPolicy")
        return
    assert _policy_matrix(docs, values) == _expected_matrix(values)


def test_trainer_reaches_minio_only_for_s3_data(tools: Tools) -> None:
    values = values_of(None)
    values["training"]["data"] = "s3://datasets/train.csv"
    docs = render(sets=("training.data=s3://datasets/train.csv",))
    matrix = _policy_matrix(docs, values)
    assert ("trainer", "minio:9000") in matrix
    assert matrix == _expected_matrix(values)
    (trainer,) = [p for p in pod_templates(docs) if p.kind == "Job" and p.component == "trainer"]
    assert env_value(trainer.container("train"), "MLFLOW_S3_ENDPOINT_URL") == f"http://{RELEASE}-minio:9000"


def test_policy_peers_for_ingress_and_prometheus(tools: Tools) -> None:
    docs = render(CHART / "ci" / "auth-values.yaml")
    (policy,) = [p for p in of_kind(docs, "NetworkPolicy").values()
                 if p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "tracking-server"]
    peers = policy["spec"]["ingress"][0]["from"]
    defaults = values_of(None)["networkPolicy"]
    for peer in defaults["ingressControllerFrom"] + defaults["metricsFrom"]:
        assert peer in peers


# --- helm tests and names --------------------------------------------------------------------------


def test_helm_test_hooks(chart) -> None:
    docs, values, _ = chart
    hooks = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Pod"}
    for d in hooks.values():
        assert d["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert d["spec"]["restartPolicy"] == "Never"
    fn = fullname(values)
    tracking = hooks[f"{fn}-test-tracking-server"]["spec"]["containers"][0]
    assert "check_tracking.py" in " ".join(tracking["command"])
    assert env_value(tracking, "MLFLOW_TRACKING_URI") == f"http://{fn}-tracking-server:{values['trackingServer']['service']['port']}"
    if values["modelServer"]["enabled"]:
        score = hooks[f"{fn}-test-model-server"]["spec"]["containers"][0]
        assert "score_rows.py" in " ".join(score["command"])
        assert env_value(score, "MODEL_SERVER_URL") == f"http://{fn}-model-server:{values['modelServer']['service']['port']}"
    else:
        assert f"{fn}-test-model-server" not in hooks


def test_names_are_unique_and_fit(chart) -> None:
    docs, _, _ = chart
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), keys
    for d in docs:
        limit = 52 if d["kind"] == "CronJob" else 63
        assert len(d["metadata"]["name"]) <= limit and d["metadata"].get("namespace") in (None, NAMESPACE)
        for value in d["metadata"].get("labels", {}).values():
            assert len(str(value)) <= 63


def test_long_release_names_still_fit(tools: Tools) -> None:
    release = "a-very-long-release-name-for-the-pycaret-mlops-stack"  # 52 characters
    out = subprocess.run(
        [tools.helm, "template", release, str(CHART), "--namespace", NAMESPACE, "--set", "modelServer.pdb.enabled=true"],
        capture_output=True, text=True, check=True,
    ).stdout
    for d in filter(None, yaml.safe_load_all(out)):
        assert len(d["metadata"]["name"]) <= (52 if d["kind"] == "CronJob" else 63), d["metadata"]["name"]
        # Job names + the 11-character pod suffix must fit a label (job-name) too
        if d["kind"] == "Job":
            assert len(d["metadata"]["name"]) <= 63 - 11
