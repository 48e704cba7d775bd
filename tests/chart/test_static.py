"""helm lint --strict, strict offline validation of the rendered manifests against the Kubernetes
schemas, and the values schema rejecting unknown and ill-typed values."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import (
    CHART,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    RenderError,
    Tools,
    _tools,
    helm_args,
    render,
    render_text,
)

# Kinds without a schema in the Kubernetes release (CRDs); checked structurally below.
CRD_KINDS = {"ServiceMonitor"}


def test_tool_versions_are_the_pinned_ones(tools: Tools) -> None:
    version = subprocess.run([tools.helm, "version", "--short"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v4."), version.stdout
    assert set(tools.schema_dirs) == {"1.30", "1.37"}, tools.schema_dirs


def test_helm_lint_strict(tools: Tools, value_set: tuple[str, Path | None]) -> None:
    _, values = value_set
    proc = subprocess.run(
        [tools.helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE, *helm_args(values)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@functools.cache
def kubeconform_report(kube: str, tmp: Path) -> dict[str, list[dict]]:
    """One kubeconform run over every value set's rendering (the schema cache is per process)."""
    tools = _tools()
    assert isinstance(tools, Tools), tools
    files = []
    for name, values in sorted(VALUE_SETS.items()):
        path = tmp / f"{name}.yaml"
        path.write_text(render_text(values))
        files.append(str(path))
    location = f"{tools.schema_dirs[kube]}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    proc = subprocess.run(
        [tools.kubeconform, "-strict", "-verbose", "-summary", "-output", "json",
         "-skip", ",".join(sorted(CRD_KINDS)), "-schema-location", location, *files],
        capture_output=True,
        text=True,
    )
    report = json.loads(proc.stdout)
    by_file: dict[str, list[dict]] = {Path(f).stem: [] for f in files}
    for resource in report["resources"]:
        by_file[Path(resource["filename"]).stem].append(resource)
    by_file["__returncode__"] = [{"code": proc.returncode, "summary": report["summary"]}]
    return by_file


@pytest.fixture(scope="session")
def schema_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubeconform")


@pytest.mark.parametrize("kube", ["1.30", "1.37"])
def test_manifests_valid_against_kubernetes_schemas(
    tools: Tools, value_set: tuple[str, Path | None], kube: str, schema_tmp: Path
) -> None:
    name, values = value_set
    report = kubeconform_report(kube, schema_tmp)
    results = report[name]
    problems = [r for r in results if r["status"] not in ("statusValid", "statusSkipped")]
    assert not problems, json.dumps(problems, indent=1)[:4000]
    docs = [d for d in yaml.safe_load_all(render_text(values)) if d]
    validated = sorted((r["kind"], r["name"]) for r in results if r["status"] == "statusValid")
    assert validated == sorted((d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] not in CRD_KINDS)
    assert len([r for r in results if r["status"] == "statusSkipped"]) == len([d for d in docs if d["kind"] in CRD_KINDS])
    summary = report["__returncode__"][0]
    assert summary["code"] == 0, summary


def test_validator_really_rejects_bad_manifests(tools: Tools) -> None:
    """Guards against a validator that passes everything (e.g. schemas it cannot resolve)."""
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "readinessProbe": {"httpGet": {"path": "/"}},
                                          "unknownField": 1}]},
            },
        },
    }
    for kube, folder in tools.schema_dirs.items():
        proc = subprocess.run(
            [tools.kubeconform, "-strict", "-schema-location", f"{folder}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", "-"],
            input=yaml.safe_dump(bad),
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1, (kube, proc.stdout)
        assert "unknownField" in proc.stdout and "port" in proc.stdout, proc.stdout


def test_service_monitor_structure() -> None:
    docs = render(CHART / "ci" / "auth-values.yaml")
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    services = [d for d in docs if d["kind"] == "Service"
                and all(d["metadata"]["labels"].get(k) == v for k, v in spec["selector"]["matchLabels"].items())]
    assert [s["metadata"]["name"] for s in services] == [f"{RELEASE}-tracking-server"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in services[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
    # /metrics sits behind basic auth when auth is on
    assert endpoint["basicAuth"]["username"]["key"] == "admin-username"
    assert endpoint["basicAuth"]["password"]["key"] == "admin-password"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


# --- values.schema.json ---------------------------------------------------------------------------

REJECTED = {
    "unknown top-level key": ("replicaCount=2",),
    "unknown nested key": ("trackingServer.replica=2",),
    "typo in a section": ("modelServer.autoscaling.enable=true",),
    "string for an integer": ("training.folds=five",),
    "string for a boolean": ("postgresql.enabled=maybe",),
    "negative replicas": ("modelServer.replicas=-1",),
    "bad pull policy": ("image.pullPolicy=Sometimes",),
    "bad task": ("training.task=clustering",),
    "bad training data scheme": ("training.data=ftp://host/x.csv",),
    "bad bucket name": ("artifacts.bucket=Bad_Bucket",),
    "bad auth permission": ("trackingServer.auth.defaultPermission=ADMIN",),
    "root uid": ("runAsUser=0",),
    "fullname too long": ("fullnameOverride=" + "a" * 31,),
    "comma in allowed host": ("trackingServer.allowedHosts.extra[0]=a\\,b",),
    "unknown key in a peer": ("networkPolicy.metricsFrom[0].pods=x",),
    "null for a section": ("minio=null",),
}


@pytest.mark.parametrize("sets", REJECTED.values(), ids=REJECTED.keys())
def test_values_schema_rejects(tools: Tools, sets: tuple[str, ...]) -> None:
    with pytest.raises(RenderError) as err:
        render(sets=sets)
    assert "values don't meet the specifications of the schema" in str(err.value) or "schema" in str(err.value), err.value


FAILED_COMBINATIONS = {
    "external db without host": (("postgresql.enabled=false",), "externalDatabase.host"),
    "external db without password secret": (
        ("postgresql.enabled=false", "externalDatabase.host=db"), "externalDatabase.existingSecret"),
    "uri secret without key": (
        ("postgresql.enabled=false", "externalDatabase.uriSecret.name=uri"), "externalDatabase.uriSecret.key"),
    "ingress without hosts": (("trackingServer.ingress.enabled=true",), "trackingServer.ingress.hosts"),
    "hpa max below min": (
        ("modelServer.autoscaling.enabled=true", "modelServer.autoscaling.minReplicas=4",
         "modelServer.autoscaling.maxReplicas=2"), "maxReplicas"),
}


@pytest.mark.parametrize("sets,message", FAILED_COMBINATIONS.values(), ids=FAILED_COMBINATIONS.keys())
def test_invalid_combinations_fail_with_a_clear_message(tools: Tools, sets: tuple[str, ...], message: str) -> None:
    with pytest.raises(RenderError) as err:
        render(sets=sets)
    assert message in str(err.value)


def test_schema_covers_every_default_value_and_nothing_else() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: dict, value: object, path: str) -> None:
        if node.get("type") == "object" and node.get("additionalProperties") is False:
            assert isinstance(value, dict), path
            assert set(value) == set(node["properties"]) - {"global"}, f"{path}: {set(value) ^ set(node['properties'])}"
            assert set(node.get("required", [])) <= set(value), path
            for key, sub in value.items():
                walk(node["properties"][key], sub, f"{path}.{key}")

    walk(schema, values, "")


def test_ci_value_files_are_used(tools: Tools) -> None:
    files = sorted(p.name for p in (CHART / "ci").glob("*.yaml"))
    assert {"external-values.yaml", "auth-values.yaml", "hpa-values.yaml", "training-off-values.yaml"} <= set(files)
    assert "ci/" in (CHART / ".helmignore").read_text()
