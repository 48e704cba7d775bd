"""Registering a new model version and the promotion gate that moves the ``champion`` alias."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    candidate: float
    champion: float | None
    champion_version: str | None

    @property
    def alias(self) -> str:
        return CHAMPION if self.promote else CHALLENGER


def decide(
    *,
    candidate: float,
    champion: float | None,
    champion_version: str | None,
    metric: str,
    higher_is_better: bool,
    margin: float = 0.0,
    promote_first: bool = True,
) -> Decision:
    """Promote when the candidate is at least as good as the champion, within ``margin``."""

    def decision(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, candidate, champion, champion_version)

    if math.isnan(candidate):
        return decision(False, f"candidate {metric} is not a number")
    if champion_version is None:
        if promote_first:
            return decision(True, "no champion yet")
        return decision(False, "no champion yet and promote_first is off")
    if champion is None or math.isnan(champion):
        return decision(False, f"champion v{champion_version} has no {metric} to compare with")
    if higher_is_better:
        ok = candidate >= champion - margin
        relation = ">=" if ok else "<"
    else:
        ok = candidate <= champion + margin
        relation = "<=" if ok else ">"
    direction = "higher" if higher_is_better else "lower"
    return decision(
        ok,
        f"candidate {metric} {candidate:.4f} {relation} champion v{champion_version} {champion:.4f} "
        f"(margin {margin}, {direction} is better)",
    )


def current_champion(client: MlflowClient, name: str) -> ModelVersion | None:
    version = client.get_registered_model(name).aliases.get(CHAMPION)
    return client.get_model_version(name, version) if version else None


def version_metric(version: ModelVersion | None, tag: str) -> float | None:
    if version is None or tag not in version.tags:
        return None
    try:
        return float(version.tags[tag])
    except ValueError:
        return None


class Registration:
    """Creates a model version; if anything fails before ``commit``, the version is deleted again.

    This keeps the registry free of half-registered versions: a version exists only
    together with its tags and an alias.
    """

    def __init__(self, client: MlflowClient, name: str) -> None:
        self.client = client
        self.name = name
        self.version: ModelVersion | None = None
        self._created_model = False
        self._committed = False

    def __enter__(self) -> Registration:
        return self

    def create(self, model: ModelInfo, run_id: str, tags: dict[str, str]) -> ModelVersion:
        try:
            self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                raise
            self.client.create_registered_model(self.name)
            self._created_model = True
        self.version = self.client.create_model_version(
            self.name, model.model_uri, run_id=run_id, tags=tags, model_id=model.model_id
        )
        return self.version

    def set_alias(self, alias: str) -> None:
        assert self.version is not None
        self.client.set_registered_model_alias(self.name, alias, self.version.version)
        self._committed = True

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._committed or exc_type is None:
            return
        try:
            if self.version is not None:
                self.client.delete_model_version(self.name, self.version.version)
                log.warning("rolled back: deleted %s version %s", self.name, self.version.version)
            if self._created_model:
                self.client.delete_registered_model(self.name)
        except Exception as cleanup_error:  # noqa: BLE001 - the original error matters more
            log.error("could not roll back registration of %s: %s", self.name, cleanup_error)
