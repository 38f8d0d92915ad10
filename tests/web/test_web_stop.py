"""`ferryman web` stops within 2 s of SIGINT or SIGTERM with clients on its event
streams (a browser tab held it 13 s; a client that keeps reading, forever), says
"stopping…", and starts again at once on the same data dir; a second start while one
runs is refused with a message naming `ferryman web` and its process id."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import forked
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web, web_env

STOP_SECONDS = 2.0


def _sse_reader(base: str, seen: list[str]) -> threading.Thread:
    """A client reading the Server-Sent Events until the server ends them."""

    def read() -> None:
        try:
            with httpx.stream("GET", f"{base}/api/v1/events", timeout=60) as answer:
                for text in answer.iter_text():
                    seen.append(text)
        except httpx.HTTPError as exc:
            seen.append(f"error: {exc!r}")

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _stop_within(web: WebServer, sig: signal.Signals) -> float:
    began = time.monotonic()
    web.process.send_signal(sig)
    try:
        web.process.wait(STOP_SECONDS + 3)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ferryman web still runs {STOP_SECONDS + 3} s after {sig.name}")
    return time.monotonic() - began


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_web_stops_within_two_seconds_with_streams_open_and_starts_again(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data = tmp_path / "data"
    with running_web(data) as web:
        seen: list[str] = []
        reader = _sse_reader(web.base, seen)
        with connect(web.base.replace("http://", "ws://") + "/api/v1/events") as ws:
            ws.send(json.dumps({"jobs": "all"}))
            assert json.loads(ws.recv(10))["type"] == "snapshot"  # both clients are in
            eventually_sync(
                lambda: any("snapshot" in s for s in seen), "the SSE snapshot", within=10
            )
            took = _stop_within(web, sig)
            assert took < STOP_SECONDS, f"stopped in {took:.2f} s"
            reader.join(5)
            assert not reader.is_alive()  # the stream was ended, not left hanging
            with pytest.raises(ConnectionClosed):
                ws.recv(5)
        eventually_sync(lambda: "stopping…" in "".join(web.output), "the last lines read")
    with running_web(data) as again:  # at once: the lock went with the process
        assert httpx.get(f"{again.base}/api/v1/jobs", timeout=10).status_code == 200


def test_a_second_start_names_web_and_its_process_id(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_web(data) as web:
        second = forked.run(
            ["web", "--port", "0"],
            env=web_env(data),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 4  # engine.locked: the set-up
        said = second.stdout + second.stderr
        assert "engine.locked" in said
        assert f"`ferryman web` (process {web.process.pid})" in said, said
        assert "ferryman run`" not in said  # the command nobody ran is not named
