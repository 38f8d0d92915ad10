"""Whether ferryman runs on a phone, and the defaults a phone gets: a module of its own,
importing nothing heavy, so the light commands (`--help`, `service`) can ask without
loading the settings' pydantic."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# Termux's prefix: its app's own files (``/data/data/com.termux/files/usr``; a second
# user's ``/data/user/10/…``; forks with another package name). A bare ``PREFIX=/usr``,
# set by build scripts and packagers on any Linux, is no phone.
_TERMUX_PREFIX = re.compile(r"/data/(?:data|user/\d+)/[^/]+/files/usr/?")


def on_phone(env: Mapping[str, str] | None = None) -> bool:
    """Whether this runs on a phone (Termux), from the environment Termux sets: its
    version, or (a Termux:Boot script, a service, which may not have that) its prefix.
    The one test of it: defaults, the device's conditions, the wake lock, `service`."""
    env = os.environ if env is None else env
    return "TERMUX_VERSION" in env or bool(_TERMUX_PREFIX.fullmatch(env.get("PREFIX", "")))


SERVER_FETCHES = 3  # downloads at once off a phone: a slow origin leaves room for others


def default_fetches() -> int:
    """One download at a time on a phone (one radio, one battery); several elsewhere, so
    one slow download never holds the quick ones behind it."""
    return 1 if on_phone() else SERVER_FETCHES


PHONE_THREADS = 2


def default_threads() -> int:
    """A conversion's threads: two on a phone, where each of FFmpeg's own (a frame in
    flight per x264 or decoder thread, one per core and more) costs memory the phone's
    low-memory killer counts; elsewhere 0, FFmpeg's choice by the cores."""
    return PHONE_THREADS if on_phone() else 0


PHONE_LOOKAHEAD = 5


def default_lookahead() -> int | None:
    """x264's lookahead on a phone: 5 frames, not the preset's 10, and no queue of frames
    for a lookahead thread; ~28 MiB less in a 720p transcode at 2 threads, the output
    ~1 % smaller (bench/results/memory.md). Elsewhere None: the preset's."""
    return PHONE_LOOKAHEAD if on_phone() else None
