"""helm test: POST the sample rows to the model server's /invocations and check the answer.

Env: MODEL_SERVER_URL (http://<svc>:<port>), SCORING_CSV (path to a CSV with a header).
"""

import csv
import json
import os
import sys
import urllib.error
import urllib.request


def number(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def payload(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    columns, data = rows[0], [[number(v) for v in row] for row in rows[1:] if row]
    return {"dataframe_split": {"columns": columns, "data": data}}, len(data)


def main() -> int:
    url = os.environ["MODEL_SERVER_URL"].rstrip("/") + "/invocations"
    body, count = payload(os.environ["SCORING_CSV"])
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as err:
        print(f"test-score: {url} answered HTTP {err.code}: {err.read()[:300]!r}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as err:
        print(f"test-score: {url} unreachable or invalid answer: {err!r}", file=sys.stderr)
        return 1
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != count:
        print(f"test-score: expected {count} predictions, got {str(answer)[:300]}", file=sys.stderr)
        return 1
    print(f"test-score: {count} rows scored: {json.dumps(predictions)[:500]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
