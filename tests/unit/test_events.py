"""The engine's events: one class per kind, typed, in their own namespace."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from ferryman.engine.plumbing import events
from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    EventBus,
    ItemProgress,
    JobEvent,
    JobFetching,
    JobFinished,
)
from ferryman.errors import ERRORS
from ferryman.frontdoors.progress import plain_line

KINDS = typing.get_args(events.Event)
ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_is_one_class_with_a_snake_case_name_unlike_any_error_code() -> None:
    names = [k.kind for k in KINDS]
    assert len(set(names)) == len(names) == len(KINDS)
    for kind in KINDS:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()
        assert kind.kind == snake, kind
        # Error codes are dotted (``job.cancelled``); a kind never is, nor equals one.
        assert "." not in kind.kind and kind.kind not in ERRORS
        assert kind.kind.replace("_", ".", 1) not in ERRORS, kind.kind


def test_every_event_class_in_the_module_is_in_the_union() -> None:
    found = {
        obj
        for obj in vars(events).values()
        if isinstance(obj, type) and obj.__module__ == events.__name__ and "kind" in vars(obj)
    }
    assert found == set(KINDS)


def test_events_are_frozen_and_say_their_job_and_item() -> None:
    done = JobFinished(7, state="done")
    assert (done.job_id, done.item_id) == (7, None)
    with pytest.raises(AttributeError):
        done.state = "failed"  # type: ignore[misc]
    progress = ItemProgress(7, 9, stage="convert", fraction=0.5)
    assert (progress.job_id, progress.item_id) == (7, 9)
    assert isinstance(progress, JobEvent)
    assert dict(progress.details()) == {
        "stage": "convert",
        "fraction": 0.5,
        "speed": None,
        "eta": None,
    }
    with pytest.raises(TypeError):
        JobFinished(state="done")  # type: ignore[call-arg]


def test_the_bus_hands_instances_on_and_a_broken_subscriber_stops_no_one() -> None:
    bus = EventBus()
    got: list[events.Event] = []

    def broken(_event: events.Event) -> None:
        raise RuntimeError("a renderer's bug")

    bus.subscribe(broken)
    stop = bus.subscribe(got.append)
    sent = AlbumDelivered(3, album=1, items=10, ref="lib:x")
    bus.publish(sent)
    stop()
    bus.publish(JobFinished(3, state="done"))
    assert got == [sent]


def test_plain_lines_name_the_kind_and_its_fields() -> None:
    assert plain_line(JobFinished(3, state="failed", code="archive.truncated")) == (
        "job 3: job_finished state=failed code=archive.truncated"
    )
    fetching = JobFetching(3, done=5, total=10, speed=2.1e6, eta=40.0, fraction=0.5)
    assert plain_line(fetching) == "job 3: downloading 50% (2.1 MB/s, 40 s left)"
    assert plain_line(JobFetching(3, done=5, total=None, speed=0, eta=None, fraction=None)) is None


@pytest.mark.slow  # over 3 s: runs mypy in a child process
def test_mypy_refuses_a_misspelt_field_and_an_unknown_kind(tmp_path: Path) -> None:
    """What the classes are for: a renamed field fails the type check, not a user."""
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from ferryman.engine.plumbing.events import Event, JobFinished, JobFetching\n"
        "JobFinished(1, staet='done')\n"
        "def f(e: Event) -> object:\n"
        "    if isinstance(e, JobFetching):\n"
        "        return e.fractoin\n"
        "    return e.data\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(wrong)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "MYPYPATH": str(ROOT / "src")},
        cwd=tmp_path,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert 'Unexpected keyword argument "staet"' in out, out
    assert 'has no attribute "fractoin"' in out, out
    assert 'has no attribute "data"' in out, out
