"""Small helpers to walk rendered manifests: pod specs, containers, selectors, policies."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class PodTemplate:
    kind: str  # kind of the owning resource
    name: str  # name of the owning resource
    labels: dict
    spec: dict
    claims: tuple[str, ...] = ()  # StatefulSet volumeClaimTemplates (volumes too)

    @property
    def component(self) -> str:
        return self.labels.get("app.kubernetes.io/component", "")

    def containers(self, init: bool = True) -> list[dict]:
        return (self.spec.get("initContainers", []) if init else []) + self.spec["containers"]

    def container(self, name: str) -> dict:
        (found,) = [c for c in self.containers() if c["name"] == name]
        return found

    def ports(self) -> dict[str, int]:
        """Named and numbered container ports of the pod -> number."""
        out: dict[str, int] = {}
        for c in self.spec["containers"]:
            for p in c.get("ports", []):
                out[str(p["containerPort"])] = p["containerPort"]
                if "name" in p:
                    out[p["name"]] = p["containerPort"]
        return out


def pod_templates(docs: list[dict]) -> Iterator[PodTemplate]:
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            t = d["spec"]["template"]
        elif kind == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            t = {"metadata": d["metadata"], "spec": d["spec"]}
        else:
            continue
        claims = tuple(c["metadata"]["name"] for c in d["spec"].get("volumeClaimTemplates", [])) if kind == "StatefulSet" else ()
        yield PodTemplate(kind, name, t["metadata"].get("labels", {}), t["spec"], claims)


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container: dict, name: str) -> str | None:
    entry = env_of(container).get(name)
    return entry.get("value") if entry else None


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels/matchExpressions(In/Exists) semantics; {} selects everything."""
    match = selector.get("matchLabels", {})
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def service_targets(service: dict, pods: list[PodTemplate]) -> list[PodTemplate]:
    return [p for p in pods if p.kind in ("Deployment", "StatefulSet") and selects(
        {"matchLabels": service["spec"]["selector"]}, p.labels)]


def ingress_allowed(policies: list[dict], source: PodTemplate, dest: PodTemplate, port: int) -> bool:
    """Whether `source` (same namespace) may open `port` on `dest` under these NetworkPolicies."""
    applying = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
                and selects(p["spec"]["podSelector"], dest.labels)]
    if not applying:
        return True
    ports = dest.ports()
    for policy in applying:
        for rule in policy["spec"].get("ingress", []):
            rule_ports = rule.get("ports")
            if rule_ports and not any(ports.get(str(rp["port"])) == port for rp in rule_ports):
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for peer in peers:
                # peers with a namespaceSelector or ipBlock are other namespaces / networks
                if "podSelector" in peer and "namespaceSelector" not in peer and "ipBlock" not in peer:
                    if selects(peer["podSelector"], source.labels):
                        return True
    return False


def mlflow_host_allowed(allowed: list[str], host: str) -> bool:
    """MLflow's Host header check (mlflow.server.security_utils.is_allowed_host_header)."""
    if "*" in allowed:
        return True
    return any(fnmatch.fnmatch(host, a) if "*" in a else host == a for a in allowed)
