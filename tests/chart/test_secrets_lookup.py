"""Generated Secrets are made once and kept: `helm template --dry-run=server` against a fake API
server, so helm's `lookup` sees (or does not see) the Secrets of an earlier install."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, NAMESPACE, RELEASE, Tools
from tests.chart.fake_apiserver import FakeApiServer

AUTH = CHART / "ci" / "auth-values.yaml"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    server = FakeApiServer()
    yield server, server.kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
    server.close()


def installed(secret: dict) -> dict:
    """The Secret as `helm install` leaves it in the cluster (ownership metadata added)."""
    meta = dict(secret["metadata"], namespace=NAMESPACE)
    meta["labels"] = {**meta.get("labels", {}), "app.kubernetes.io/managed-by": "Helm"}
    meta["annotations"] = {**meta.get("annotations", {}), "meta.helm.sh/release-name": RELEASE,
                           "meta.helm.sh/release-namespace": NAMESPACE}
    return {**secret, "metadata": meta}


def server_render(tools: Tools, kubeconfig: Path, *args: str) -> dict[str, dict]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HELM_CACHE_HOME": str(kubeconfig.parent / "cache"),
           "HELM_CONFIG_HOME": str(kubeconfig.parent / "config"), "HELM_DATA_HOME": str(kubeconfig.parent / "data")}
    proc = subprocess.run(
        [tools.helm, "template", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=server",
         "--disable-openapi-validation", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(proc.stdout) if d and d["kind"] == "Secret"}


def test_secrets_are_generated_once_and_kept_on_upgrade(tools: Tools, api) -> None:
    server, kubeconfig = api
    first = server_render(tools, kubeconfig, "-f", str(AUTH))
    assert set(first) == {f"{RELEASE}-postgresql", f"{RELEASE}-minio", f"{RELEASE}-auth"}
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{RELEASE}-postgresql" in server.paths  # lookup ran

    again = server_render(tools, kubeconfig, "-f", str(AUTH))  # nothing installed yet: new random values
    assert again[f"{RELEASE}-postgresql"]["data"] != first[f"{RELEASE}-postgresql"]["data"]

    for name, secret in first.items():  # "install": the Secrets now exist, owned by the release
        server.secrets[(NAMESPACE, name)] = installed(secret)
    upgrade = server_render(tools, kubeconfig, "-f", str(AUTH), "--set", "trackingServer.workers=4")
    for name, secret in first.items():
        assert upgrade[name]["data"] == secret["data"], name
    assert upgrade[f"{RELEASE}-auth"]["data"]["admin-username"] == "YWRtaW4="  # "admin"


def test_existing_secrets_are_neither_generated_nor_looked_up(tools: Tools, api) -> None:
    server, kubeconfig = api
    secrets = server_render(
        tools, kubeconfig, "--set", "postgresql.auth.existingSecret=my-pg", "--set", "minio.auth.existingSecret=my-minio",
        "--set", "trackingServer.auth.enabled=true", "--set", "trackingServer.auth.existingSecret=my-auth",
    )
    assert secrets == {}
    assert not [r for r in server.paths if "/secrets/" in r]


def test_a_kept_secret_keeps_user_rotated_values(tools: Tools, api) -> None:
    """A password changed in the cluster (e.g. rotated by hand) is what the next upgrade keeps."""
    server, kubeconfig = api
    rotated = installed({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": f"{RELEASE}-postgresql"},
                         "data": {"password": "cm90YXRlZC1wYXNzd29yZA=="}})
    server.secrets[(NAMESPACE, f"{RELEASE}-postgresql")] = rotated
    secrets = server_render(tools, kubeconfig)
    assert secrets[f"{RELEASE}-postgresql"]["data"] == rotated["data"]
    assert secrets[f"{RELEASE}-minio"]["data"]  # still generated: no such Secret yet
