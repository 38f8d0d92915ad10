"""The free-space guard: reading waits rather than filling the phone's disk."""

from __future__ import annotations

import shutil
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def room_for(path: Path, size: int, floor: int) -> bool:
    """Whether writing ``size`` more bytes under ``path`` keeps ``floor`` bytes free."""
    return free_bytes(path) - max(0, size) >= floor
