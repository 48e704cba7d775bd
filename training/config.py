"""Trainer settings: one set of names for flags, ``TRAIN_*`` variables and the YAML file.

Precedence is flag > environment > YAML file (``--config`` / ``TRAIN_CONFIG``) > default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from serving import settings
from training.errors import ConfigError
from training.metrics import Task


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]


class TrainSettings(BaseSettings):
    """Everything a training run can be told. Field names are the YAML keys; flags use dashes."""

    model_config = SettingsConfigDict(
        env_prefix="TRAIN_",
        extra="forbid",
        cli_prog_name="mlops-train",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_hide_none_type=True,
    )

    config: Path | None = Field(None, description="YAML file with any of these settings")
    data: str = Field(
        "sklearn:breast_cancer",
        description="CSV path, s3://bucket/key.csv, http(s):// URL, or sklearn:<breast_cancer|diabetes|iris|wine>",
    )
    target: str | None = Field(None, description="target column (sklearn: datasets default to 'target')")
    task: Task | None = Field(None, description="classification or regression; detected from the target when omitted")
    ignore: CommaList = Field(default_factory=list, description="columns to drop before training (comma list)")
    models: CommaList = Field(default_factory=list, description="PyCaret model ids to compare, e.g. lr,rf (default: all)")
    folds: int = Field(5, ge=2, le=50, description="cross-validation folds")
    train_size: float = Field(0.8, gt=0.1, lt=1.0, description="share of rows used for training; the rest is holdout")
    metric: str | None = Field(None, description="selection metric (default: AUC for classification, R2 for regression)")
    tune: bool = Field(False, description="tune the best model's hyperparameters")
    tune_iterations: int = Field(10, ge=1, description="random-search iterations when tuning")
    budget_minutes: float | None = Field(None, gt=0, description="time budget for compare_models")
    seed: int = Field(42, description="random seed (PyCaret session_id)")
    min_rows: int = Field(30, ge=2, description="refuse datasets with fewer rows")
    n_jobs: int = Field(-1, description="parallel jobs for PyCaret models (-1: all cores)")
    experiment: str = Field("pycaret", min_length=1, description="MLflow experiment name")
    model_name: str = Field("pycaret-model", min_length=1, description="registered model name")
    promotion_margin: float = Field(0.0, ge=0, description="champion is replaced if new >= champion - margin")
    promote_first: bool = Field(True, description="make the first registered version champion")
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint for s3:// data (default: MLFLOW_S3_ENDPOINT_URL)"
    )
    tracking_timeout: float = Field(60.0, gt=0, description="seconds to wait for the tracking server and its artifact store")

    @field_validator("task", mode="before")
    @classmethod
    def _lower_task(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the parsed flags (see load_settings); the YAML path is known only then.
        yaml_file = _config_path(init_settings(), env_settings())
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file is not None:
            sources.append(_yaml_source(settings_cls, yaml_file))
        return tuple(sources)


def _yaml_source(settings_cls: type[BaseSettings], path: Path) -> InitSettingsSource:
    """The YAML file as a settings source, after checking that it is a mapping of settings.

    Parsed once here and handed over as a mapping (what YamlConfigSettingsSource does after
    reading the file itself), so a bad file gets a precise ConfigError.
    """
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}" if exc.problem_mark else ""
        raise ConfigError(f"config file {path} is not valid YAML: {exc.problem}{where}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} is not readable YAML: {exc}") from None
    if content is not None and not isinstance(content, dict):
        raise ConfigError(
            f"config file {path} must be a mapping of settings (e.g. 'folds: 5'), not a {type(content).__name__}"
        )
    return InitSettingsSource(settings_cls, init_kwargs=content or {})


def _config_path(flags: dict, env: dict) -> Path | None:
    path = flags.get("config") or env.get("config")
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return path


def load_settings(argv: list[str] | None = None) -> TrainSettings:
    """Parse flags (``argv``), ``TRAIN_*`` variables and the optional YAML file."""
    try:
        return settings.parse(TrainSettings, argv)
    except settings.InvalidSettings as exc:
        raise ConfigError(str(exc)) from None
