"""Whether ferryman runs on a phone: a module of its own, importing nothing heavy, so the
light commands (`--help`, `service`) can ask without loading the settings' pydantic."""

from __future__ import annotations

import os
from collections.abc import Mapping


def on_phone(env: Mapping[str, str] | None = None) -> bool:
    """Whether this runs on a phone (Termux), from the environment Termux sets: its
    version, or (a Termux:Boot script, a service, which may not have that) its prefix.
    The one test of it: defaults, the device's conditions, the wake lock, `service`."""
    env = os.environ if env is None else env
    return "TERMUX_VERSION" in env or str(env.get("PREFIX", "")).endswith("/usr")
