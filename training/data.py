"""Loading and checking the training data: a local CSV, an S3 object, a URL or a bundled sklearn set."""

from __future__ import annotations

import io
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.errors import DataError
from training.metrics import Task

log = logging.getLogger(__name__)

SKLEARN_DATASETS = ("breast_cancer", "diabetes", "iris", "wine")
HTTP_TIMEOUT_SECONDS = 60
# An integer target with at most this many distinct values is taken as class labels.
MAX_CLASSES_FOR_INTEGER_TARGET = 20


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    name: str
    source: str
    default_target: str | None = None


def load_dataset(source: str, *, s3_endpoint_url: str | None = None) -> Dataset:
    """Read ``source`` into a DataFrame; every failure becomes a DataError naming the source."""
    if source.startswith("sklearn:"):
        return _load_sklearn(source.removeprefix("sklearn:"))
    if source.startswith("s3://"):
        raw = _read_s3(source, s3_endpoint_url)
    elif source.startswith(("http://", "https://")):
        raw = _read_url(source)
    else:
        raw = _read_file(source)
    name = Path(source.split("?")[0]).stem or source
    return Dataset(frame=_parse_csv(raw, source), name=name, source=source)


def _load_sklearn(name: str) -> Dataset:
    from sklearn import datasets

    if name not in SKLEARN_DATASETS:
        raise DataError(f"unknown bundled dataset 'sklearn:{name}'; choose one of: {', '.join(SKLEARN_DATASETS)}")
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if "target_names" in bunch:  # classification: readable labels instead of 0/1/2
        frame["target"] = bunch.target.map(dict(enumerate(bunch.target_names)))
    return Dataset(frame=frame, name=name, source=f"sklearn:{name}", default_target="target")


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"data path is a directory, not a CSV file: {path}") from None
    except PermissionError:
        raise DataError(f"data file is not readable (permission denied): {path}") from None


def _read_url(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"could not download {url}: {reason}") from None


def _read_s3(uri: str, endpoint_url: str | None) -> bytes:
    import boto3
    import botocore.exceptions

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise DataError(f"S3 data URI must look like s3://bucket/key.csv, got: {uri}")
    endpoint = endpoint_url or os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
    client = boto3.client("s3", endpoint_url=endpoint)
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DataError(f"could not read {uri}: {code} ({exc.response.get('Error', {}).get('Message', '')})") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise DataError(f"could not read {uri}: {exc}") from None


def _parse_csv(raw: bytes, source: str) -> pd.DataFrame:
    if not raw.strip():
        raise DataError(f"data file is empty: {source}")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except UnicodeDecodeError:
        raise DataError(f"data is not UTF-8 text CSV: {source}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"could not parse CSV {source}: {str(exc).strip()}") from None
    if frame.empty:
        raise DataError(f"data has a header but no rows: {source}")
    return frame


def detect_task(target: pd.Series) -> Task:
    """Classification for labels (text, booleans, few distinct integers), regression otherwise."""
    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= MAX_CLASSES_FOR_INTEGER_TARGET:
        return "classification"
    return "regression"


def prepare(
    frame: pd.DataFrame,
    *,
    target: str,
    task: Task | None,
    ignore: list[str],
    folds: int,
    min_rows: int,
) -> tuple[pd.DataFrame, Task]:
    """Check the data is trainable and return the frame to train on and the task.

    Ignored columns are dropped here, not left to PyCaret, so that the served model's
    signature asks only for the columns the model uses. Integer features become floats
    so that rows with missing values can still be scored.
    """
    if target not in frame.columns:
        raise DataError(f"target column '{target}' not found; columns are: {', '.join(map(str, frame.columns))}")
    unknown = [column for column in ignore if column not in frame.columns]
    if unknown:
        raise DataError(f"columns to ignore not found: {', '.join(unknown)}")
    if target in ignore:
        raise DataError(f"target column '{target}' is also listed in ignore")
    frame = frame.drop(columns=ignore)
    if frame.shape[1] < 2:
        raise DataError("no feature columns left besides the target")

    missing_target = int(frame[target].isna().sum())
    if missing_target:
        log.warning("dropping %d rows with no value in target '%s'", missing_target, target)
        frame = frame.dropna(subset=[target])
    if len(frame) < min_rows:
        raise DataError(f"too few rows to train: {len(frame)} (minimum {min_rows})")

    task = task or detect_task(frame[target])
    if task == "classification":
        counts = frame[target].value_counts()
        if len(counts) < 2:
            raise DataError(f"target '{target}' has a single class ({counts.index[0]!r}); need at least two")
        if counts.min() < folds:
            raise DataError(
                f"class {counts.idxmin()!r} of target '{target}' has {counts.min()} rows, "
                f"fewer than the {folds} cross-validation folds"
            )
    elif not pd.api.types.is_numeric_dtype(frame[target]):
        raise DataError(f"regression needs a numeric target; '{target}' has values like {frame[target].iloc[0]!r}")

    integer_features = [c for c in frame.columns if c != target and pd.api.types.is_integer_dtype(frame[c])]
    frame = frame.astype({column: "float64" for column in integer_features})
    return frame.reset_index(drop=True), task
