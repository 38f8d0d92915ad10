"""The free-space guard: reading waits rather than filling the phone's disk."""

from __future__ import annotations

import shutil
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (its nearest existing parent)."""
    return shutil.disk_usage(_existing(path)).free


def never_fits(path: Path, size: int) -> bool:
    """Whether ``size`` bytes exceed the whole filesystem: a wait for room could never
    end, whatever is delivered, deleted or set. (A floor that is too high is waited
    out instead: a person can lower it while the job waits.)"""
    return size > shutil.disk_usage(_existing(path)).total


def _existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def fits_above_floor(path: Path, size: int, floor: int) -> bool:
    """Whether writing ``size`` more bytes under ``path`` keeps ``floor`` bytes free."""
    return free_bytes(path) - max(0, size) >= floor
