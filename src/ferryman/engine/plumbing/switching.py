"""How long a thread may hold the GIL while another waits for it, while an engine runs.

A reading thread asks a media worker for each entry's decode (``media.box.pool``) and waits on
its pipe; with CPython's 5 ms, taking the GIL back from a busy event loop cost up to 5 ms
an entry (a run of 2,000 photos 2.5x slower); at 0.5 ms the loop yields sooner, at a few
more switches where threads contend (bench/results/pipeline.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_SECONDS = 0.0005


@contextmanager
def short_gil_switches() -> Iterator[None]:
    """The interpreter's switch interval at most ``SWITCH_SECONDS`` inside, as it was
    after (an engine in a test's process leaves the process as it found it)."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_SECONDS))
    try:
        yield
    finally:
        sys.setswitchinterval(switch)
