"""`ferryman web` as a person starts it: a child process on a free loopback port, its
address read from what it prints, stopped with SIGTERM (and its exit code checked)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import forked
from tests.support.waiting import eventually_sync


@dataclass
class WebServer:
    base: str
    process: forked.Process
    data: Path
    output: list[str]

    def client(self, **options: Any) -> httpx.Client:
        # Plain HTTP on loopback: no certificate is checked, so no CA bundle is read
        # (httpx loads one for every client it makes: ~25 ms of CPU each).
        return httpx.Client(base_url=self.base, timeout=30, **{"verify": False, **options})

    def wait_for(
        self, job_id: int, states: tuple[str, ...], within: float = 120, **options: Any
    ) -> dict[str, Any]:
        """The job's view once its status is one of ``states``."""
        with self.client(**options) as client:
            last: list[dict[str, Any]] = [{}]

            def reached() -> dict[str, Any] | None:
                last[0] = client.get(f"/api/v1/jobs/{job_id}").json()
                return last[0] if last[0].get("status") in states else None

            try:
                return eventually_sync(reached, f"job {job_id} done", within=within, every=0.2)
            except AssertionError:
                raise AssertionError(
                    f"job {job_id} stayed {last[0].get('status')}: {last[0]}"
                ) from None


# The engine inside ``web`` polls the store as shipped (0.5 s), not the crash loops' 0.05 s:
# what a web test waits on (a job added, cancelled, retried through the API) wakes it
# in-process. An idle engine polling every 0.05 s took 2.4 times the CPU of the API's
# own work through the fuzz of test_web_api.py (py-spy: its stage workers' claims),
# more the longer a loaded machine stretched a test (docs/testing.md, "How long").
WEB_POLL_SECONDS = "0.5"


def web_env(data: Path, **extra: str) -> dict[str, str]:
    """The crash tests' environment, taking links to loopback (the tests' servers), with
    the engine's poll as shipped (``WEB_POLL_SECONDS``) unless ``extra`` sets one."""
    from tests.crash.test_crash import _env

    defaults = {
        "FERRYMAN_WEB__ALLOW_PRIVATE_LINKS": "true",
        "FERRYMAN_POLL_SECONDS": WEB_POLL_SECONDS,
    }
    return _env(data, **(defaults | extra))


@contextmanager
def running_web(data: Path, *args: str, **env: str) -> Iterator[WebServer]:
    """``ferryman web --port 0`` on ``data``; yields once it listens."""
    process = forked.popen(
        ["web", "--port", "0", *args],
        env=web_env(data, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith("ferryman web: http://") and not found:
                found.append(line.split()[2].rstrip("/"))
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(60)
    if not found:
        process.kill()
        raise AssertionError("ferryman web did not start:\n" + "".join(output))
    server = WebServer(found[0], process, data, output)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reader.join(5)


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
