"""Time is read through ``ferryman.clock``: a module that reads the machine's clock or
sleeps on the loop's timers itself decides on a time no test can move (a link's expiry
waited out with a 4 s sleep, a lease with a 0.6 s one).

The modules left below read the clock for something no test waits on, each group
with its reason; a new read elsewhere takes a ``Clock`` (``ferryman.clock``) instead,
and a module that stops reading leaves the list (the test says so)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ferryman"
# time.time / time.monotonic / perf_counter (called or passed), datetime.now, the loop's
# time, and asyncio.sleep of anything but 0 (a turn of the loop is no wait).
READ = re.compile(
    r"\btime\.(time|monotonic|perf_counter)\b|datetime\.(now|utcnow)\(|loop\.time\("
    r"|asyncio\.sleep\((?!0\))"
)

ALLOWED = {
    # Measures only: a step's seconds, a speed or time left shown, never waited on.
    "measures": {
        "engine/convert/step.py",
        "engine/deliver/step.py",
        "engine/read/prepare.py",
        "engine/plumbing/collector.py",  # how often freed memory is handed back
        "media/progress.py",
        "media/segmented.py",
        "net/progress.py",
        "sources/media_link.py",
        "sources/sound.py",
        "web/metrics.py",
        "sinks/telegram.py",  # how long a keep took; its waits go through the store's clock
        "sources/rclone.py",  # a fetch's speed and time left, from rclone's own byte count
    },
    # Stamps: when something happened, written down, decided on by no one here.
    "stamps": {
        "engine/plumbing/events.py",  # an event's ``at``
        "engine/plumbing/quarantine.py",  # a quarantined file's note
        "store/migrate.py",  # when a schema version was applied
        "store/startup/sqlite3_store.py",  # the same, for a schema made at once
        "sinks/flat.py",  # the date a library folder is named after
        "web/stream.py",  # the stream's epoch: an id, and its pace on the loop
        "links/health.py",  # a link extractor's failures, by day
        "links/cache.py",
    },
    # Real time by nature: a child process's or a reading thread's wall-clock limit, a
    # remote server's pace or retry wait (that server keeps the real time), a person's
    # terminal or chat refreshed.
    "real time": {
        "archive/box/reader.py",
        "archive/sevenzip/layer.py",  # 7zz's wall-clock limit while it unpacks a layer
        "net/rclone.py",  # rclone rcd answering after its start; a copy's status polled
        "sinks/telegram_topics.py",  # Telegram still making a topic from the same random_id
        "media/box/pool.py",
        "media/child.py",
        "engine/read/read_run.py",
        "net/download.py",
        "net/s3.py",
        "net/waits.py",
        "store/wakeup.py",  # a listener's reconnects
        "telegram/download.py",
        "telegram/pool.py",
        "telegram/stream.py",  # a block asked again after a dropped connection
        "telegram/upload.py",
        "telegram/window.py",
        "web/api/events.py",  # the event stream's pace to a browser
        "web/server.py",  # waiting for uvicorn to listen
        "frontdoors/chat_demo_steps.py",
        "frontdoors/cli/doctor.py",
        "frontdoors/cli/follow.py",
        "frontdoors/progress.py",
        "frontdoors/telegram/status.py",  # takes a clock; this is the default
        "telegram/accounts.py",  # an account's flood wait and refusals: Telegram's real time
        "frontdoors/cli/status.py",  # a person's terminal: how long an account still waits
    },
}


def _readers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = str(path.relative_to(SRC))
        if name == "clock.py":
            continue
        lines = [
            f"{n}: {line.strip()}"
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if READ.search(line) and not line.lstrip().startswith("#")
        ]
        if lines:
            found[name] = lines
    return found


def test_time_is_read_through_the_clock_outside_the_explained_modules() -> None:
    allowed = set().union(*ALLOWED.values())
    readers = _readers()
    assert {name: lines for name, lines in readers.items() if name not in allowed} == {}
    assert sorted(allowed - set(readers)) == []  # reads no more: off the list


def test_the_check_sees_a_read() -> None:
    assert READ.search("expires = time.time() + ttl")
    assert READ.search("clock: Clock = time.monotonic")
    assert READ.search("await asyncio.sleep(0.5)")
    assert not READ.search("await asyncio.sleep(0)")
    assert not READ.search("expires = self.clock.now() + ttl")
