from pathlib import Path

import pytest

from training.config import load_settings
from training.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TRAIN_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load_settings([])
    assert settings.data == "sklearn:breast_cancer"
    assert settings.folds == 5
    assert settings.models == []
    assert settings.tune is False
    assert settings.model_name == "pycaret-model"


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("folds: 3\nseed: 7\nexperiment: from-file\nmodels: [lr, rf]\n")
    monkeypatch.setenv("TRAIN_CONFIG", str(config))
    monkeypatch.setenv("TRAIN_SEED", "11")
    monkeypatch.setenv("TRAIN_FOLDS", "4")

    settings = load_settings(["--folds", "6"])

    assert settings.folds == 6  # flag
    assert settings.seed == 11  # env over file
    assert settings.experiment == "from-file"  # file over default
    assert settings.models == ["lr", "rf"]  # YAML list
    assert settings.train_size == 0.8  # default


def test_config_file_from_flag(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("target: charges\ntune: true\n")
    settings = load_settings(["--config", str(config)])
    assert settings.target == "charges"
    assert settings.tune is True


def test_comma_lists_from_env_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_MODELS", "lr, dt,rf")
    monkeypatch.setenv("TRAIN_IGNORE", "Id")
    settings = load_settings(["--ignore", "Id,STORE"])
    assert settings.models == ["lr", "dt", "rf"]
    assert settings.ignore == ["Id", "STORE"]


def test_boolean_flags_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_TUNE", "true")
    assert load_settings([]).tune is True
    assert load_settings(["--no-tune"]).tune is False
    assert load_settings(["--no-promote-first"]).promote_first is False


def test_task_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_TASK", "Regression")
    assert load_settings([]).task == "regression"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--folds", "1"], "--folds (TRAIN_FOLDS): Input should be greater than or equal to 2"),
        (["--task", "clustering"], "--task (TRAIN_TASK)"),
        (["--train-size", "1.5"], "--train-size (TRAIN_TRAIN_SIZE)"),
    ],
)
def test_invalid_values_name_the_setting(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match="invalid settings") as err:
        load_settings(argv)
    assert message in str(err.value)


def test_unknown_yaml_key_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("fold: 3\n")
    with pytest.raises(ConfigError, match="fold"):
        load_settings(["--config", str(config)])


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(["--config", str(tmp_path / "nope.yaml")])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("folds: [1\n  x: y\n", r"not valid YAML: expected ',' or '\]', but got ':' at line 2, column 4"),
        ("- lr\n- rf\n", "must be a mapping of settings .* not a list"),
        ("\xff\xfe", "not readable YAML"),
    ],
)
def test_unusable_config_file(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "train.yaml"
    config.write_bytes(content.encode("latin-1"))
    with pytest.raises(ConfigError, match=message):
        load_settings(["--config", str(config)])


def test_empty_config_file_means_defaults(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("")
    assert load_settings(["--config", str(config)]).folds == 5
