"""The worker side of ``media.box.pool``: a process that runs the engine's decoding calls one
after another, each confined, and answers each with its outcome.

Started as ``python -m ferryman.media.box.worker REQUESTS ANSWERS LIFELINE`` (the pipes'
descriptors). Per call it imports the function first (PyAV's libraries are the
worker's, not the call's), then limits itself: address space to its size now plus the
call's memory (an allocation past it fails: ``MemoryError``, or a decoder's error,
told apart by the peak), CPU seconds to what it used plus the call's (past them the
kernel ends it with SIGXCPU). A worker that came near its cap, or whose resident peak
grew, answers and exits: the next call starts from a clean heap (and a clean peak).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import math
import os
import resource
import select
import signal
import sys
import traceback
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.media.box.calls import GROWN, MIB, PRELOAD, Pipe, resolve

_NEAR_CAP = 16 * MIB  # a peak this close to the cap: an allocation failed there
_PAGE = os.sysconf("SC_PAGE_SIZE")

Logged = list[tuple[str, int, str]]


class _Kept(logging.Handler):
    """Log records kept for the call's answer: the engine logs them as its own."""

    def __init__(self, into: Logged) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append((record.name, record.levelno, record.getMessage()))


def main(argv: list[str]) -> int:
    """Serve calls until the engine closes the requests' pipe (or a call retires it)."""
    requests_fd, answers_fd, lifeline = (int(a) for a in argv)
    for signum in (signal.SIGINT, signal.SIGTERM):  # the engine ends this process itself
        signal.signal(signum, signal.SIG_IGN)
    _die_with_parent(lifeline)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    requests = Pipe(requests_fd)
    answers = Pipe(answers_fd)
    logged: Logged = []
    root = logging.getLogger()
    root.handlers[:] = [_Kept(logged)]
    root.setLevel(logging.INFO)
    for name in PRELOAD:
        importlib.import_module(name)
    answers.send(("ready",))
    while True:
        try:
            target, args, kwargs, cpu_seconds, memory = requests.recv()
        except EOFError:
            return 0
        outcome, retire = _call(target, args, kwargs, cpu_seconds, memory)
        answers.send((outcome, retire, list(logged)))
        logged.clear()
        if retire:
            return 0


def _call(
    target: str, args: tuple[Any, ...], kwargs: dict[str, Any], cpu_seconds: float, memory: int
) -> tuple[tuple[Any, ...], bool]:
    """The call's outcome (``box._result`` reads it) and whether to retire after it."""
    try:
        function = resolve(target)
    except Exception as exc:
        return ("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc()), True
    start = _vm_size()
    resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cap = start + memory
    _limit(cpu_seconds, cap)
    try:
        outcome: tuple[Any, ...] = ("ok", function(*args, **kwargs))
    except MemoryError:
        outcome = ("memory", memory)
    except FerrymanError as exc:
        outcome = ("error", exc.code, exc.message)
    except OSError as exc:
        if exc.errno is None:  # Pillow's "cannot decode": the file's
            outcome = ("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            outcome = ("oserror", exc.errno, exc.strerror, exc.filename)
    except Exception as exc:
        outcome = ("bug", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        _unlimit()
    if outcome[0] not in ("ok", "memory") and _vm_peak() >= cap - _NEAR_CAP:
        outcome = ("memory", memory)  # a decoder said "invalid data" of a failed allocation
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 > resident + GROWN
    return outcome, outcome[0] == "memory" or grown


def _limit(cpu_seconds: float, address_space: int) -> None:
    """Soft limits for this call, under the hard ones the worker started with."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + cpu_seconds)  # whole seconds
    for which, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, address_space)):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))


def _unlimit() -> None:
    for which in (resource.RLIMIT_CPU, resource.RLIMIT_AS):
        hard = resource.getrlimit(which)[1]
        resource.setrlimit(which, (hard, hard))


def _vm_size() -> int:
    """This process's address space now, in bytes (0 where /proc has none)."""
    with contextlib.suppress(OSError), open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * _PAGE
    return 0


def _vm_peak() -> int:
    """This process's largest address space so far, in bytes (0 where /proc has none)."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent(lifeline: int) -> None:
    """SIGKILL this process when the engine dies: it holds the lifeline's only other
    end, so the read end turns readable when it ends, and the kernel sends the signal
    however busy a decoder is (as ``media.child`` and ``archive.box.child`` do)."""
    with contextlib.suppress(AttributeError, OSError):  # F_SETSIG: Linux only
        fcntl.fcntl(lifeline, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(lifeline, fcntl.F_SETSIG, signal.SIGKILL)
        fcntl.fcntl(lifeline, fcntl.F_SETFL, fcntl.fcntl(lifeline, fcntl.F_GETFL) | os.O_ASYNC)
    if select.select([lifeline], [], [], 0)[0]:  # gone before the signal was asked for
        os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
