"""Parsing pydantic settings from flags and environment with one readable error line."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, CliSettingsSource

S = TypeVar("S", bound=BaseSettings)


class InvalidSettings(ValueError):
    pass


def describe(exc: ValidationError, settings_cls: type[BaseSettings]) -> str:
    """``--model-name (SERVE_MODEL_NAME): Field required; ...`` for every problem."""
    prefix = settings_cls.model_config.get("env_prefix", "")
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = f"--{field.replace('_', '-')} ({prefix}{field.upper()})" if field else "settings"
        problems.append(f"{name}: {err['msg']}")
    return "invalid settings: " + "; ".join(problems)


def parse(settings_cls: type[S], argv: list[str] | None = None, **overrides: object) -> S:
    """Flags (``argv``, default ``sys.argv``) over ``overrides`` over the settings class's other sources."""
    flags = CliSettingsSource(settings_cls, cli_parse_args=argv if argv is not None else True)()
    try:
        return settings_cls(**{**overrides, **flags})
    except ValidationError as exc:
        raise InvalidSettings(describe(exc, settings_cls)) from None
