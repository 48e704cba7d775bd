"""Chart tests: helm lint/template, offline schema validation and wiring checks.

Every test under tests/chart is marked ``chart``. The tools come from
``bash tests/infra/chart-tools.sh`` (pinned helm, kubeconform and Kubernetes schemas in
$TOOLS_DIR); when they are missing the tests fail, they never skip.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "pycaret-mlops"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
TOOLS_SCRIPT = REPO / "tests" / "infra" / "chart-tools.sh"
RELEASE = "mlops"
NAMESPACE = "ml"

# Value sets every check runs on: the defaults plus each file in helm/pycaret-mlops/ci.
VALUE_SETS = {"default": None, **{path.stem: path for path in CI_VALUES}}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chart: Helm chart checks (needs tests/infra/chart-tools.sh)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chart)


@dataclass(frozen=True)
class Tools:
    helm: str
    kubeconform: str
    schema_dirs: dict[str, Path]  # Kubernetes minor ("1.30") -> strict schema dir


@functools.cache
def _tools() -> Tools | str:
    proc = subprocess.run(["bash", str(TOOLS_SCRIPT), "--check"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"chart tools missing; run `bash {TOOLS_SCRIPT.relative_to(REPO)}`:\n{proc.stderr.strip()}"
    paths = dict(line.split("=", 1) for line in proc.stdout.split() if "=" in line)
    schemas = {
        key.removeprefix("K8S_SCHEMA_DIR_").replace("_", "."): Path(value)
        for key, value in paths.items()
        if key.startswith("K8S_SCHEMA_DIR_")
    }
    return Tools(paths["HELM"], paths["KUBECONFORM"], schemas)


@pytest.fixture(scope="session")
def tools() -> Tools:
    found = _tools()
    if isinstance(found, str):
        pytest.fail(found, pytrace=False)
    return found


class RenderError(Exception):
    pass


def helm_args(values: Path | None, sets: tuple[str, ...] = ()) -> list[str]:
    args = ["-f", str(values)] if values else []
    for item in sets:
        args += ["--set", item]
    return args


@functools.cache
def render_text(values: Path | None = None, sets: tuple[str, ...] = ()) -> str:
    found = _tools()
    if isinstance(found, str):
        pytest.fail(found, pytrace=False)
    command = [found.helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *helm_args(values, sets)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return proc.stdout


@functools.cache
def _render(values: Path | None, sets: tuple[str, ...]) -> tuple[dict, ...]:
    return tuple(doc for doc in yaml.safe_load_all(render_text(values, sets)) if doc)


def render(values: Path | None = None, sets: tuple[str, ...] = ()) -> list[dict]:
    """Rendered manifests (helm template) as dicts; raises RenderError on failure."""
    return list(_render(values, tuple(sets)))


def values_of(values: Path | None) -> dict:
    """The chart defaults merged with a value file (enough for the keys the tests read)."""
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    if values:
        _merge(merged, yaml.safe_load(values.read_text()) or {})
    return merged


def _merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@pytest.fixture(params=sorted(VALUE_SETS), ids=str)
def value_set(request: pytest.FixtureRequest, tools: Tools) -> tuple[str, Path | None]:
    return request.param, VALUE_SETS[request.param]
