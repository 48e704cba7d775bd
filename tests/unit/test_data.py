import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.data import detect_task, load_dataset, prepare
from training.errors import DataError


def write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_local_csv(tmp_path: Path) -> None:
    dataset = load_dataset(write(tmp_path / "sales.csv", "a,b,y\n1,x,0\n2,z,1\n"))
    assert dataset.name == "sales"
    assert list(dataset.frame.columns) == ["a", "b", "y"]
    assert dataset.frame["b"].tolist() == ["x", "z"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "data file is empty"),
        ("\n\n", "data file is empty"),
        ("a,b,y\n", "has a header but no rows"),
        ('a,b\n1,"unterminated\n', "could not parse CSV"),
        (b"\xff\xfe\x00bin\x00\xff\n\x80\x81", "not UTF-8"),
    ],
)
def test_bad_csv(tmp_path: Path, content: str | bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset(write(tmp_path / "bad.csv", content))


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"data file not found: {tmp_path}/nope.csv"):
        load_dataset(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(str(tmp_path))


def test_sklearn_datasets_have_readable_labels() -> None:
    dataset = load_dataset("sklearn:breast_cancer")
    assert dataset.frame.shape == (569, 31)
    assert dataset.default_target == "target"
    assert set(dataset.frame["target"]) == {"malignant", "benign"}
    diabetes = load_dataset("sklearn:diabetes")
    assert diabetes.frame["target"].dtype == np.float64


def test_unknown_sklearn_dataset() -> None:
    with pytest.raises(DataError, match="unknown bundled dataset 'sklearn:mnist'"):
        load_dataset("sklearn:mnist")


def test_bad_s3_uri() -> None:
    with pytest.raises(DataError, match="s3://bucket/key.csv"):
        load_dataset("s3://only-bucket")


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_csv(http_dir: str, tmp_path: Path) -> None:
    write(tmp_path / "remote.csv", "a,y\n1,2\n3,4\n")
    dataset = load_dataset(f"{http_dir}/remote.csv")
    assert dataset.name == "remote"
    assert dataset.frame["y"].tolist() == [2, 4]


def test_http_not_found(http_dir: str) -> None:
    with pytest.raises(DataError, match="HTTP 404"):
        load_dataset(f"{http_dir}/missing.csv")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["CH", "MM", "CH"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1, 0], "classification"),
        ([0.0, 1.0, 1.0], "classification"),
        (list(np.linspace(0, 100, 50)), "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_detect_task(values: list, task: str) -> None:
    assert detect_task(pd.Series(values)) == task


def frame(rows: int = 40, classes: int = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": np.arange(rows), "name": [f"n{i}" for i in range(rows)], "y": [f"c{i % classes}" for i in range(rows)]}
    )


def test_prepare_drops_ignored_and_casts_integers() -> None:
    prepared, task = prepare(frame(), target="y", task=None, ignore=["name"], folds=5, min_rows=30)
    assert task == "classification"
    assert list(prepared.columns) == ["x", "y"]
    assert prepared["x"].dtype == np.float64


def test_prepare_drops_rows_without_target() -> None:
    data = frame(45)
    data.loc[:4, "y"] = None
    prepared, _ = prepare(data, target="y", task=None, ignore=[], folds=5, min_rows=30)
    assert len(prepared) == 40


@pytest.mark.parametrize(
    ("kwargs", "data", "message"),
    [
        ({"target": "price"}, frame(), "target column 'price' not found; columns are: x, name, y"),
        ({"ignore": ["nope"]}, frame(), "columns to ignore not found: nope"),
        ({"ignore": ["y"]}, frame(), "also listed in ignore"),
        ({"ignore": ["x", "name"]}, frame(), "no feature columns left"),
        ({}, frame(classes=1), r"single class \('c0'\)"),
        ({}, frame(rows=10), r"too few rows to train: 10 \(minimum 30\)"),
        ({}, frame(rows=40, classes=10), "has 4 rows, fewer than the 5 cross-validation folds"),
        ({"task": "regression"}, frame(), "regression needs a numeric target"),
    ],
)
def test_prepare_rejects(kwargs: dict, data: pd.DataFrame, message: str) -> None:
    arguments = {"target": "y", "task": None, "ignore": [], "folds": 5, "min_rows": 30, **kwargs}
    with pytest.raises(DataError, match=message):
        prepare(data, **arguments)
