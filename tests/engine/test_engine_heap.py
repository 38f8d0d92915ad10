"""After a big album the engine hands what it freed back to the system (archive/allocator.py).

glibc's mmap threshold follows the largest block freed: after a decoded picture, the
blocks below its size come from the heap and stay there once freed, up to twice that
size. The phone trip's engine grew by ~100 MiB over the trip for it
(bench/results/memory.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing import collector
from ferryman.engine.plumbing.events import EngineDraining
from ferryman.frontdoors.startup import running
from tests.support.waiting import eventually

_PROBE = """
from ferryman.archive.allocator import give_back_freed

def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) << 10 for line in status if line.startswith("VmRSS:"))

picture = b"\\x01" * (8 << 20)  # a picture's pixels: mapped on their own, then
del picture  # freed (glibc's threshold now follows them up to 8 MiB)
before = rss()
parts = [b"\\x02" * (512 << 10) for _ in range(24)]  # 12 MiB of upload parts: in the heap
del parts
give_back_freed()
print(rss() - before)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc's heap only (the test knows how glibc keeps freed blocks)",
)
def test_big_blocks_freed_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    kept = int(done.stdout.strip().splitlines()[-1])
    assert kept < 4 << 20, f"{kept >> 20} MiB of freed 512 KiB blocks kept in the heap"


async def test_the_engine_gives_back_while_its_events_come_at_most_once_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not once an album (what the next album's work freed after it stayed), not on a
    timer (an idle engine is never woken): on the engine's events, rate-limited."""
    given: list[int] = []
    monkeypatch.setattr(collector, "give_back_freed", lambda: given.append(1))
    trim = collector.HeapTrim(every=3600.0)
    for _ in range(5):  # a burst of progress events
        trim.on_event(EngineDraining(draining=False))
    await eventually(lambda: given, "a hand-back on the first event")
    trim.on_event(EngineDraining(draining=False))
    assert trim.given == 1 and given == [1]  # the rest within the hour: none
    often = collector.HeapTrim(every=0.0)
    often.on_event(EngineDraining(draining=False))
    await eventually(lambda: often._running is not None and often._running.done(), "done")
    often.on_event(EngineDraining(draining=False))
    await eventually(lambda: len(given) == 3, "one more each event once the last is done")


async def test_a_running_engine_hands_back_what_it_freed(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    given: list[int] = []
    monkeypatch.setattr(collector, "give_back_freed", lambda: given.append(1))
    async with running(settings) as started:
        started.engine.bus.publish(EngineDraining(draining=False))
        await eventually(lambda: given, "a hand-back on the engine's event")


_ARENAS = """
import threading
from ferryman.archive.allocator import one_heap
import ctypes
one_heap()
def work():
    kept = [bytes(512 << 10) for _ in range(8)]  # a part's bytes on each thread
    del kept
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()  # glibc prints one "Arena N:" block per arena
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc's arenas only",
)
def test_the_engines_threads_share_one_heap() -> None:
    """Parts read on the engine's threads were kept by an arena each, which
    ``malloc_trim`` does not hand back (the phone trip's engine at 146-160 MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("Arena ") == 1, done.stderr


async def test_a_running_engine_shares_one_heap(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    called: list[int] = []
    monkeypatch.setattr(collector, "one_heap", lambda: called.append(1))
    async with running(settings):
        assert called == [1]
