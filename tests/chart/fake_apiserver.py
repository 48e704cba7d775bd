"""Small recording HTTP servers for the chart tests, and on top of one a minimal fake Kubernetes
API server for `helm template --dry-run=server`: discovery for the
kinds the chart renders, and GET of Secrets from an in-memory store. Enough for helm's
`lookup`, so that the "generate once, keep on upgrade" Secrets can be tested without a cluster."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GROUPS = {
    "v1": {"secrets": "Secret", "services": "Service", "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount",
           "pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim", "namespaces": "Namespace"},
    "apps/v1": {"deployments": "Deployment", "statefulsets": "StatefulSet"},
    "batch/v1": {"jobs": "Job", "cronjobs": "CronJob"},
    "networking.k8s.io/v1": {"networkpolicies": "NetworkPolicy", "ingresses": "Ingress"},
    "rbac.authorization.k8s.io/v1": {"roles": "Role", "rolebindings": "RoleBinding"},
    "policy/v1": {"poddisruptionbudgets": "PodDisruptionBudget"},
    "autoscaling/v2": {"horizontalpodautoscalers": "HorizontalPodAutoscaler"},
    "monitoring.coreos.com/v1": {"servicemonitors": "ServiceMonitor"},
}


class FakeServer:
    """Records requests; `routes[(method, path)]` -> (status, json body) or a callable taking the
    request; anything else is answered by `fallback`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.routes: dict[tuple[str, str], object] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                fake.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": json.loads(body) if body else None})
                route = fake.routes.get((self.command, path), fake.fallback)
                status, answer = route(fake.requests[-1]) if callable(route) else route
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def paths(self) -> list[str]:
        """Request paths, without query string or trailing slash, in order."""
        return [r["path"].split("?")[0].rstrip("/") for r in self.requests]

    def fallback(self, request: dict) -> tuple[int, object]:
        return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST"}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeApiServer(FakeServer):
    """Discovery for the chart's kinds and GET of Secrets from `secrets`, for helm's `lookup`."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict] = {}  # (namespace, name) -> Secret
        super().__init__()

    def fallback(self, request: dict) -> tuple[int, dict]:
        return self.answer(request["path"].split("?")[0].rstrip("/"))

    def kubeconfig(self, path: Path, namespace: str) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }))
        return path

    def answer(self, path: str) -> tuple[int, dict]:
        if path == "/version":
            return 200, {"major": "1", "minor": "34", "gitVersion": "v1.34.0", "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = []
            for gv in GROUPS:
                if "/" in gv:
                    group, version = gv.split("/")
                    entry = {"groupVersion": gv, "version": version}
                    groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        gv = path.removeprefix("/api/") if path.startswith("/api/") else path.removeprefix("/apis/")
        if gv in GROUPS:
            resources = [{"name": plural, "singularName": kind.lower(), "namespaced": kind != "Namespace",
                          "kind": kind, "verbs": ["get", "list", "create", "update", "patch", "delete"]}
                         for plural, kind in GROUPS[gv].items()]
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
        parts = path.split("/")
        if path.startswith("/api/v1/namespaces/") and len(parts) == 7 and parts[5] == "secrets":
            secret = self.secrets.get((parts[4], parts[6]))
            if secret:
                return 200, secret
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
