"""Roll the model server out when the served registry alias points at a new version.

Second step of every training pod (after the trainer's init container succeeded). The model
server resolves models:/<name>@<alias> once, at start; this asks the tracking server which
version the alias names now and writes it into the model-server Deployment's pod template
annotation pycaret-mlops/champion-version. A changed annotation makes the Deployment roll
(surge first, maxUnavailable 0); an unchanged one is a no-op, so a run that did not promote a
new champion restarts nothing. Needs get/patch on that one Deployment (the chart's Role).

Env: MLFLOW_TRACKING_URI, SERVE_MODEL_NAME, SERVE_ALIAS, MODEL_SERVER_DEPLOYMENT, optional
MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD; the service account token, CA and
namespace under SERVICE_ACCOUNT_DIR; KUBERNETES_API_URL overrides the API server address.
"""

import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

ANNOTATION = "pycaret-mlops/champion-version"
DEFAULT_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def alias_version(env, timeout=30):
    """Version number (string) the alias points at, or None if it does not exist yet."""
    query = urllib.parse.urlencode({"name": env["SERVE_MODEL_NAME"], "alias": env["SERVE_ALIAS"]})
    url = env["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/registered-models/alias?" + query
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if env.get("MLFLOW_TRACKING_USERNAME"):
        login = f"{env['MLFLOW_TRACKING_USERNAME']}:{env.get('MLFLOW_TRACKING_PASSWORD', '')}"
        req.add_header("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return str(json.load(resp)["model_version"]["version"])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def api_server(env):
    if env.get("KUBERNETES_API_URL"):
        return env["KUBERNETES_API_URL"].rstrip("/")
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"


def kube(env, method, path, body=None, content_type="application/json", timeout=30):
    sa_dir = env.get("SERVICE_ACCOUNT_DIR", DEFAULT_SA_DIR)
    with open(os.path.join(sa_dir, "token")) as fh:
        token = fh.read().strip()
    ca = os.path.join(sa_dir, "ca.crt")
    context = ssl.create_default_context(cafile=ca) if os.path.exists(ca) else None
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api_server(env) + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        return json.load(resp)


def main(env=os.environ) -> int:
    name, alias, deployment = env["SERVE_MODEL_NAME"], env["SERVE_ALIAS"], env["MODEL_SERVER_DEPLOYMENT"]
    try:
        version = alias_version(env)
        if version is None:
            print(f"rollout: {name}@{alias} does not exist yet; {deployment} left alone")
            return 0
        sa_dir = env.get("SERVICE_ACCOUNT_DIR", DEFAULT_SA_DIR)
        with open(os.path.join(sa_dir, "namespace")) as fh:
            namespace = fh.read().strip()
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"
        current = kube(env, "GET", path)
        annotations = current.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
        served = annotations.get(ANNOTATION)
        if served == version:
            print(f"rollout: {deployment} already serves {name}@{alias} = version {version}; nothing to do")
            return 0
        patch = {"spec": {"template": {"metadata": {"annotations": {ANNOTATION: version}}}}}
        kube(env, "PATCH", path, body=patch, content_type="application/strategic-merge-patch+json")
        print(f"rollout: {deployment} rolling out {name}@{alias} = version {version} (was {served or 'not recorded'})")
        return 0
    except urllib.error.HTTPError as err:
        print(f"rollout: {err.url} answered HTTP {err.code}: {err.read()[:300]!r}", file=sys.stderr)
    except (urllib.error.URLError, OSError, KeyError, ValueError) as err:
        print(f"rollout: failed: {err!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
