"""Targets ``media.child.run_in_child`` runs in a child in the media tests: a child
unpickles its target by name, so it imports the module that holds it. Here that module
loads ``os`` and ``threading`` alone: a test module's own imports (PyAV, psutil, the
media fixtures) took a loaded machine's child more than the 5 s its timeout gave it to
start, and it was killed before it said its pid."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from ferryman.errors import FerrymanError


def sleep_forever(pid_file: Path, progress: Callable[[float], None]) -> None:
    """Says its pid and a first progress, then waits to be killed."""
    pid_file.write_text(str(os.getpid()))
    progress(0.25)
    threading.Event().wait()  # never set: a hang, ended only by a kill


def nothing(progress: Callable[[float], None]) -> None:
    """Ends at once: a child run to warm the template before a timed one."""


def raise_ferryman_error(code: str, progress: Callable[[float], None]) -> None:
    raise FerrymanError(code, "refused on purpose")


def raise_bug(progress: Callable[[float], None]) -> None:
    raise RuntimeError("a bug")


def die_hard(progress: Callable[[float], None]) -> None:
    os._exit(3)
