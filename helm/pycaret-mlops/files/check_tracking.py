"""helm test: the tracking server answers /health and accepts its Service DNS name as Host.

Env: MLFLOW_TRACKING_URI, optional MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request


def get(url, auth=None):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read().decode()


def main() -> int:
    base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    auth = None
    if os.environ.get("MLFLOW_TRACKING_USERNAME"):
        auth = f"{os.environ['MLFLOW_TRACKING_USERNAME']}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}"
    try:
        status, body = get(base + "/health")
        if status != 200 or body.strip() != "OK":
            print(f"test-tracking: {base}/health answered {status} {body[:200]!r}", file=sys.stderr)
            return 1
        print(f"test-tracking: {base}/health OK")
        # /health is exempt from MLflow's Host header check; an API call is not, so this
        # proves the allowed hosts cover the Service name (403 otherwise).
        status, body = get(base + "/api/2.0/mlflow/experiments/search?max_results=1", auth)
        json.loads(body)
        print(f"test-tracking: {base}/api/2.0/mlflow/experiments/search answered {status}")
        return 0
    except urllib.error.HTTPError as err:
        print(f"test-tracking: {err.url} answered HTTP {err.code}: {err.read()[:300]!r}", file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as err:
        print(f"test-tracking: {base} unreachable or invalid answer: {err!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
