"""Starting local server processes and waiting until they answer: used by ``make demo`` and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


class ServiceFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 2xx; fail with the log's tail if the process dies or time runs out."""

    def check() -> None:
        if proc is not None and proc.poll() is not None:
            raise ServiceFailed(f"{url}: process exited with code {proc.returncode}\n{tail(log)}")
        requests.get(url, timeout=2).raise_for_status()

    try:
        for attempt in Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.5),
            retry=retry_if_exception_type(requests.RequestException),
            reraise=True,
        ):
            with attempt:
                check()
    except requests.RequestException as exc:
        raise ServiceFailed(f"{url} not ready after {timeout:.0f}s: {exc}\n{tail(log)}") from None


@contextlib.contextmanager
def process(
    command: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run ``command`` in its own process group, output appended to ``log``; stop the whole group on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
