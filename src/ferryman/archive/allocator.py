"""The C heap tuned: freed memory handed back while an engine works, and an archive's
1 MiB blocks kept.

While an engine works (``give_back_freed``, from ``engine.plumbing.collector``): glibc
keeps what the process freed in its heap (a freed block raises the size it maps on its
own to that block's, up to 32 MiB, and the free space it keeps to twice that); the
phone trip's engine grew from ~120 to ~225 MiB PSS over the trip for it, and
``malloc_trim`` hands the free pages back. Android's allocator is asked the same
(``mallopt(M_PURGE)``, Android 9 and later; unknown there before, and ignored).

Every thread of an engine on one glibc arena (``one_heap``): what a thread's own arena
served stayed there, out of ``malloc_trim``'s reach.

An archive read as a stream (``tune_for_streaming``):

Each block a backend yields is a fresh 1 MiB ``bytes``. With glibc's defaults, freeing
it trims the heap and the next block grows it again: measured on a 512 MiB tar, 44,000
page faults and 1.36x bsdtar's time; with these two thresholds, 5,000 faults and
0.95-1.05x (``python -m bench archives``). Peak RSS does not change. A process
tunable, set the same way on every call, so it is safe to call per archive; a no-op
off glibc. Cheap, as it runs before every archive's first entry: glibc is asked by
``confstr`` and ``mallopt`` found in the process's own symbols (``platform.libc_ver``
and ``ctypes.util.find_library``, which runs ``ldconfig``, took 2-4 ms per archive).
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_M_PURGE = -101  # bionic's (Android's libc): release the free memory now


def give_back_freed() -> None:
    """Hand the pages of freed blocks back to the system (module docstring). Blocking
    (~3 ms, more on a big heap): run it on a thread, now and then, not per file."""
    try:
        libc = ctypes.CDLL(None)  # the process's symbols, its C library's among them
        if _glibc():
            libc.malloc_trim(0)
        elif hasattr(sys, "getandroidapilevel"):  # Termux's Python, or CPython's for Android
            libc.mallopt(_M_PURGE, 0)
    except (OSError, AttributeError):
        return


def one_heap() -> None:
    """One glibc arena for all of the process's threads, not one a thread (up to eight a
    core). Upload parts read on the engine's threads and freed on its loop left each of
    a dozen arenas holding what it had served, and ``malloc_trim`` hands back no
    arena's top but the main one's: the phone trip's engine stayed at 146-160 MiB PSS,
    104-141 with one arena (bench/results/memory.md). Call it before the threads start;
    a no-op off glibc (Android's allocator has no such arenas)."""
    _mallopt((_M_ARENA_MAX, 1))


def tune_for_streaming() -> None:
    """Serve blocks of up to 4 MiB from the heap and trim only above 64 MiB free."""
    # both: one alone made it worse
    _mallopt((_M_MMAP_THRESHOLD, 4 << 20), (_M_TRIM_THRESHOLD, 64 << 20))


def _mallopt(*settings: tuple[int, int]) -> None:
    if not _glibc():
        return
    try:
        libc = ctypes.CDLL(None)  # the process's symbols, glibc's among them
        for param, value in settings:
            libc.mallopt(param, value)
    except (OSError, AttributeError):
        return


def _glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # not glibc (musl has no such name)
        return False
