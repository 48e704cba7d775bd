"""``mlops-score``: send rows from a CSV or JSON file to a model server and print the predictions.

    mlops-score http://127.0.0.1:8080 --csv rows.csv
    mlops-score http://model-server:8080 --json request.json   # a {"dataframe_split": ...} body

CSV goes as ``text/csv`` (the server parses it once, faster than JSON for many rows).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests


def score(url: str, body: bytes, content_type: str, timeout: float = 60) -> list:
    """POST ``body`` to ``<url>/invocations``; returns the predictions or raises with the server's message."""
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/invocations"):
        endpoint += "/invocations"
    response = requests.post(endpoint, data=body, headers={"Content-Type": content_type}, timeout=timeout)
    if not response.ok:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise RuntimeError(f"HTTP {response.status_code}: {message.strip()[:2000]}")
    return response.json()["predictions"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-score", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="model server base URL, e.g. http://127.0.0.1:8080")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="CSV file with a header row (- for stdin)")
    source.add_argument("--json", type=Path, help="JSON request body file (- for stdin)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds (default: 60)")
    args = parser.parse_args(argv)

    path, content_type = (args.csv, "text/csv") if args.csv else (args.json, "application/json")
    try:
        body = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        predictions = score(args.url, body, content_type, args.timeout)
    except (OSError, RuntimeError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for prediction in predictions:
        print(json.dumps(prediction) if isinstance(prediction, (dict, list)) else prediction)
    return 0


if __name__ == "__main__":
    sys.exit(main())
