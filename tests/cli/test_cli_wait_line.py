"""A job that waits, as `ferryman add --run` shows it: its progress line says the code,
the words and when it looks again, once, and the engine's warning of the same wait is
not printed beside it (a stream that is no terminal prints the log's warnings); with
``--json`` the event keeps its fields and gains ``message`` and ``again_in``. TorBox
at the plan's active limit queues the torrent (``debrid.queued``): a wait whose words
only the service has."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.engine.plumbing.events import JobWaiting
from ferryman.frontdoors.progress import plain_line
from tests.support import forked
from tests.support.faketorbox import API_KEY, FakeTorbox, Torrent, torbox_serving
from tests.support.httpserve import serving
from tests.support.waiting import eventually_sync

HASH = "c9e15763f722f23e98a29decdfae341b98d53056"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Trip"
WORDS = "queued at TorBox: your plan's active limit"


@pytest.fixture
def full_plan() -> Iterator[FakeTorbox]:
    """TorBox at the plan's active limit: the torrent is queued, never started."""
    with serving() as cdn, torbox_serving(cdn) as torbox:
        torbox.active_limit = 0
        photo = ("Trip/a.jpg", b"\xff\xd8\xff" + b"1" * 50, "image/jpeg")
        torbox.swarm[HASH] = Torrent("Trip", [photo], cached=False)
        yield torbox


def _waited(home: Path, torbox: FakeTorbox, *flags: str) -> tuple[str, str]:
    """`add MAGNET --run` until the job has waited and looked again twice, then Ctrl-C:
    its stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {
        "XDG_CONFIG_HOME": str(home / "cfg"),
        "FERRYMAN_SPACE_FLOOR": "0",
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_TORBOX__API_KEY": API_KEY,
        "FERRYMAN_TORBOX__API_BASE": torbox.base,
        "FERRYMAN_NETWORK__RECHECK_SECONDS": "0.3",
    }
    args = ["--data-dir", str(home / "data"), "add", MAGNET, "--run", *flags]
    run = forked.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # asked its queue three times: it waited, and looked again after the wait it said
        eventually_sync(lambda: torbox.calls["getqueued"] >= 3, "the job to wait", within=60)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    return out, err


def test_a_wait_s_line_says_its_words_and_when_it_looks_again_once(
    tmp_path: Path, full_plan: FakeTorbox
) -> None:
    _, err = _waited(tmp_path, full_plan)
    lines = [line for line in err.splitlines() if "debrid.queued" in line]
    assert lines == [
        f"job 1: job_waiting debrid.queued: {WORDS}; it starts when a slot frees"
        " (looks again in 1 s)"
    ], err
    assert err.count(WORDS) == 1 and "WARNING" not in err, err


def test_json_events_keep_their_fields_and_add_the_words(
    tmp_path: Path, full_plan: FakeTorbox
) -> None:
    out, _ = _waited(tmp_path, full_plan, "--json")
    events = [json.loads(line) for line in out.splitlines() if '"event": "job_waiting"' in line]
    assert events, out
    for event in events:
        assert {k: event[k] for k in ("event", "job", "item", "reason")} == {
            "event": "job_waiting",
            "job": 1,
            "item": None,
            "reason": "debrid.queued",
        }
        assert WORDS in event["message"] and event["again_in"] == 1.0  # whole seconds


def test_a_wait_on_the_person_names_no_time_and_a_bare_one_its_code() -> None:
    password = JobWaiting(4, reason="archive.password_required", message="a.zip is encrypted")
    assert (
        plain_line(password) == "job 4: job_waiting archive.password_required: a.zip is encrypted"
    )
    assert plain_line(JobWaiting(4, reason="backlog")) == "job 4: job_waiting backlog"
    later = JobWaiting(4, reason="debrid.rate_limited", message="too many", again_in=600)
    assert (
        plain_line(later)
        == "job 4: job_waiting debrid.rate_limited: too many (looks again in 10 min)"
    )
