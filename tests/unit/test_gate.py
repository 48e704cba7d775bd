import math

import pytest

from training.metrics import higher_is_better, metric_key, resolve_metric
from training.registry import decide


def gate(candidate: float, champion: float | None, *, higher: bool = True, margin: float = 0.0, first: bool = True):
    return decide(
        candidate=candidate,
        champion=champion,
        champion_version=None if champion is None else "3",
        metric="holdout_auc" if higher else "holdout_rmse",
        higher_is_better=higher,
        margin=margin,
        promote_first=first,
    )


def test_first_model_is_promoted_unless_disabled() -> None:
    assert gate(0.7, None).promote is True
    assert gate(0.7, None).reason == "no champion yet"
    assert gate(0.7, None, first=False).alias == "challenger"


@pytest.mark.parametrize(
    ("candidate", "champion", "higher", "margin", "promote"),
    [
        (0.90, 0.90, True, 0.0, True),  # equal is "at least as good"
        (0.91, 0.90, True, 0.0, True),
        (0.89, 0.90, True, 0.0, False),
        (0.89, 0.90, True, 0.02, True),  # within margin
        (0.87, 0.90, True, 0.02, False),
        (10.0, 10.0, False, 0.0, True),  # lower is better (RMSE)
        (9.0, 10.0, False, 0.0, True),
        (11.0, 10.0, False, 0.0, False),
        (10.5, 10.0, False, 1.0, True),
    ],
)
def test_gate(candidate: float, champion: float, higher: bool, margin: float, promote: bool) -> None:
    decision = gate(candidate, champion, higher=higher, margin=margin)
    assert decision.promote is promote
    assert decision.alias == ("champion" if promote else "challenger")
    assert decision.champion == champion
    assert f"champion v3 {champion:.4f}" in decision.reason


def test_champion_without_metric_is_not_replaced_blindly() -> None:
    decision = decide(
        candidate=0.9, champion=None, champion_version="2", metric="holdout_auc", higher_is_better=True
    )
    assert decision.promote is False
    assert "champion v2 has no holdout_auc" in decision.reason


def test_nan_candidate_is_never_promoted() -> None:
    assert gate(math.nan, 0.5).promote is False


@pytest.mark.parametrize(
    ("name", "task", "display"),
    [
        (None, "classification", "AUC"),
        (None, "regression", "R2"),
        ("auc", "classification", "AUC"),
        ("precision", "classification", "Prec."),
        ("Prec.", "classification", "Prec."),
        ("rmse", "regression", "RMSE"),
    ],
)
def test_resolve_metric(name: str | None, task: str, display: str) -> None:
    assert resolve_metric(name, task) == display


def test_unknown_metric_lists_choices() -> None:
    with pytest.raises(ValueError, match="unknown metric 'r2' for classification; choose one of: accuracy, auc"):
        resolve_metric("r2", "classification")


def test_metric_keys_and_directions() -> None:
    assert metric_key("Prec.", "classification") == "precision"
    assert metric_key("TT (Sec)", "classification") == "tt_sec"
    assert higher_is_better("R2", "regression") is True
    assert higher_is_better("MAE", "regression") is False
