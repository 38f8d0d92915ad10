"""No new fixed sleeps in the tests: a test waits for the thing itself (an event, a row,
a child's line: ``tests/support/waiting.py``), moves an injected clock past a moment
(``tests/support/clock.py``), or blocks a hang on an event never set. A fixed sleep is
too short on a loaded machine (the test fails by chance) and too long on an idle one.

A window in which something must *not* happen is closed by a positive event instead:
the engine idle on a ``ManualClock`` after the polls that would have done it
(``engine_idle``, ``driven``), a counter that shows the system went past the point
(a child's rechecks in its store, a queued call, the page's requests in order, a
child ended and every connection it made taken).

The sleeps left are below, each file with its count and why: the poll inside
``eventually`` itself, a fake server's or a child's pace (a link's speed, a slow
import), and a kill at a random moment. A file that sleeps more than its count fails
here; one that sleeps less says so too (lower its count)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# time.sleep / asyncio.sleep of anything but 0 (a turn of the loop is no wait)
SLEEP = re.compile(r"\b(time|asyncio)\.sleep\((?!0\))")

ALLOWED: dict[str, tuple[int, str]] = {
    "support/waiting.py": (2, "the poll of eventually / eventually_sync itself"),
    "support/httpserve.py": (2, "the fake link's speed and latency: its pace, not a wait"),
    "support/bigfeed.py": (3, "a person's pace between API calls in the feed benchmark"),
    "support/_slow_import.py": (1, "a template whose import is slow: the scenario"),
    "unit/test_clock_reads.py": (1, "a string the clock check must see, not a sleep"),
    "crash/test_crash.py": (1, "the kill's moment: random, or a share of the work done"),
    "crash/test_watch_crash.py": (1, "a kill at a random moment of a check"),
    "crash/test_notify_crash.py": (
        2,
        "the webhook server's answer delay (its pace); a kill at a random moment",
    ),
    "engine/test_early_upload.py": (1, "a slow input: the reading thread's pace per block"),
    "engine/test_backlog_bounds.py": (1, "a sampler's period (the work area's peak)"),
    "store/test_queued_child_work.py": (1, "in a child script: its poll for a template's name"),
    "telegram/test_telegram_upload.py": (
        1,
        "an on_wait callback that takes a while (storing not_before): the scenario",
    ),
}


def _sleeps() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in sorted(TESTS.rglob("*.py")):
        name = str(path.relative_to(TESTS))
        if name == "unit/test_fixed_sleeps.py":
            continue
        count = len(SLEEP.findall(path.read_text()))
        if count:
            found[name] = count
    return found


def test_no_fixed_sleep_beyond_the_explained_ones() -> None:
    found = _sleeps()
    allowed = {name: count for name, (count, _) in ALLOWED.items()}
    assert {n: c for n, c in found.items() if c > allowed.get(n, 0)} == {}
    assert {n: c for n, c in allowed.items() if found.get(n, 0) < c} == {}  # lower it
    assert sum(found.values()) == 17


def test_the_check_sees_a_sleep() -> None:
    call = "sleep("  # apart, so that the grep in docs/testing.md does not count these
    assert SLEEP.search(f"        time.{call}0.5)")
    assert SLEEP.search(f"await asyncio.{call}settle)")
    assert not SLEEP.search("await asyncio.sleep(0)")
    assert not SLEEP.search("await clock.sleep(5)")
