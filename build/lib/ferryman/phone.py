"""Whether ferryman runs on a phone: a module of its own, importing nothing heavy, so the
light commands (`--help`, `service`) can ask without loading the settings' pydantic."""

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
