"""Each image on its own: metadata, non-root user, CA bundle, and a clear failure on missing configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.containers import dockerctl

pytestmark = pytest.mark.containers

PYTHON_IMAGES = ("tracking-server", "trainer", "model-server")
HEALTHCHECKED = {"tracking-server": "/health", "model-server": "/ping", "minio": "/minio/health/live"}
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----")


@pytest.mark.parametrize("name", dockerctl.IMAGE_NAMES)
def test_image_config(images: dict[str, str], name: str) -> None:
    config = dockerctl.inspect(images[name], kind="image")["Config"]
    user = config["User"]
    assert re.fullmatch(r"[1-9][0-9]*:[0-9]+", user), f"USER must be a numeric non-root uid:gid, got {user!r}"
    labels = config["Labels"] or {}
    tag = images[name].rsplit(":", 1)[1]
    assert labels.get("org.opencontainers.image.version") == tag
    assert labels.get("org.opencontainers.image.title") == f"pycaret-mlops/{name}"
    assert re.fullmatch(r"[0-9a-f]{40}", labels.get("org.opencontainers.image.revision", "")), labels
    for key in ("created", "description", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label org.opencontainers.image.{key} missing"
    healthcheck = (config.get("Healthcheck") or {}).get("Test") or []
    if name in HEALTHCHECKED:
        assert HEALTHCHECKED[name] in " ".join(healthcheck), healthcheck
        assert not {"curl", "wget"} & set(" ".join(healthcheck).split()), "health checks need no curl or wget"
    else:
        assert healthcheck in ([], ["NONE"]), f"{name} is a batch job: no HEALTHCHECK expected, got {healthcheck}"


@pytest.mark.parametrize("name", dockerctl.IMAGE_NAMES)
def test_runs_as_non_root(images: dict[str, str], name: str) -> None:
    proc = dockerctl.run_once(images[name], {}, "-u", options=("--entrypoint", "id"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() not in ("", "0"), f"{name} runs as uid {proc.stdout.strip()!r}"


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_python_image_runtime_has_no_compiler_or_pip_cache(images: dict[str, str], name: str) -> None:
    script = (
        "import shutil, sys, os; "
        "found = [c for c in ('gcc', 'cc', 'g++', 'make', 'apt-get-never') if shutil.which(c)]; "
        "print('compilers:', found); print('prefix:', sys.prefix); "
        "print('cache:', os.path.isdir('/root/.cache/pip'))"
    )
    proc = dockerctl.run_once(images[name], {}, "-c", script, options=("--entrypoint", "python"))
    assert proc.returncode == 0, proc.stderr
    assert "compilers: []" in proc.stdout, proc.stdout
    assert "prefix: /opt/venv" in proc.stdout, proc.stdout


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_python_image_trusts_the_extra_ca_bundle(images: dict[str, str], name: str) -> None:
    """The certificates of docker/ca/ at build time are in the runtime bundle that Python, requests and boto3 use."""
    extra = []
    for path in sorted(Path(dockerctl.REPO, "docker", "ca").glob("*")):
        if path.suffix in (".crt", ".pem"):
            extra += PEM_BLOCK.findall(path.read_text())
    script = r"""
import json, os, ssl, requests, botocore.session
bundle = os.environ["SSL_CERT_FILE"]
ctx = ssl.create_default_context()
session = botocore.session.get_session()
print(json.dumps({
    "env": [os.environ.get(k) for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE")],
    "ssl_cas": ctx.cert_store_stats()["x509_ca"],
    "requests": requests.Session().merge_environment_settings("https://example.invalid", {}, None, None, None)["verify"],
    "boto": session.get_config_variable("ca_bundle"),
    "bundle": open(bundle).read(),
}))
"""
    proc = dockerctl.run_once(images[name], {}, "-c", script, options=("--entrypoint", "python"))
    assert proc.returncode == 0, proc.stderr
    import json

    result = json.loads(proc.stdout)
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"
    assert result["env"] == [system_bundle] * 3
    assert result["requests"] == system_bundle and result["boto"] == system_bundle
    in_image = set(PEM_BLOCK.findall(result["bundle"]))
    assert result["ssl_cas"] >= len(in_image) > 0
    missing = [block[:80] for block in extra if block not in in_image]
    assert not missing, f"{len(missing)} certificate(s) from docker/ca/ are not in the image's bundle"


def test_minio_image_trusts_the_extra_ca_bundle(images: dict[str, str]) -> None:
    extra = []
    for path in sorted(Path(dockerctl.REPO, "docker", "ca").glob("*")):
        if path.suffix in (".crt", ".pem"):
            extra += PEM_BLOCK.findall(path.read_text())
    proc = dockerctl.run_once(
        images["minio"], {}, "/etc/ssl/certs/ca-certificates.crt", options=("--entrypoint", "cat")
    )
    assert proc.returncode == 0, proc.stderr
    in_image = set(PEM_BLOCK.findall(proc.stdout))
    assert in_image, "MinIO image has no CA bundle"
    assert all(block in in_image for block in extra)


MISSING_CONFIG = {
    # image: (environment, exit code, words the one error line must contain)
    "tracking-server": ({}, None, ["error:", "TRACKING_ARTIFACTS_DESTINATION"]),
    "tracking-server-db": ({"TRACKING_ARTIFACTS_DESTINATION": "s3://b"}, None, ["error:", "TRACKING_DB_HOST"]),
    "trainer": ({}, 2, ["training failed:", "MLFLOW_TRACKING_URI is not set"]),
    "model-server": ({"SERVE_MODEL_NAME": "m"}, 2, ["error:", "MLFLOW_TRACKING_URI is not set"]),
    "model-server-name": ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, None, ["error:", "SERVE_MODEL_NAME"]),
    "minio": ({}, 64, ["error:", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]),
}


@pytest.mark.parametrize("case", MISSING_CONFIG)
def test_missing_configuration_fails_with_one_clear_line(images: dict[str, str], case: str) -> None:
    env, code, words = MISSING_CONFIG[case]
    image = images[case.removesuffix("-name").removesuffix("-db")]
    proc = dockerctl.run_once(image, env, timeout=120)
    assert proc.returncode != 0, f"{case} started without its required configuration:\n{proc.stdout}{proc.stderr}"
    if code is not None:
        assert proc.returncode == code
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, "expected one error line, got:\n" + "\n".join(lines)
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
