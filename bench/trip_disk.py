"""What the trip's work area held at its peak: the files, by what made them.

The trip's disk check compares the sampled peak with two albums' bytes; when it is over,
this names the files that made the peak (staged entries, remuxed or converted copies,
originals kept beside them, thumbnails, half-written files), so the cause is seen, not
guessed.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

from bench._common import MiB

# How a work-area file's name tells what made it (``engine/read/prepare``,
# ``engine/convert/step``, ``media/finish``), checked in this order.
KINDS = (
    (".part", "half-written"),
    (".thumb.jpg", "thumbnail"),
    (".remux.mp4", "remuxed copy"),
    (".converted.mp4", "converted copy"),
    (".photo.jpg", "fitted photo"),
)


def kind_of(name: str) -> str:
    for marker, kind in KINDS:
        if marker in name:
            return kind
    return "as staged"


def listing(data: Path) -> list[tuple[str, int]]:
    """(name, bytes) of every file under the work area, each inode once."""
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, int]] = []
    for folder, _, names in os.walk(data / "work"):
        for name in names:
            try:
                st = os.stat(os.path.join(folder, name), follow_symlinks=False)
            except FileNotFoundError:
                continue  # the engine removed it meanwhile
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                out.append((name, st.st_size))
    return out


class PeakFiles:
    """A sampler's probe of the work area's bytes that keeps the listing at the peak
    (the trip's sink is Telegram: no library folder, so ``network.extra_disk``'s figure)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.peak: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __call__(self) -> int:
        files = listing(self.data)
        total = sum(size for _, size in files)
        with self._lock:
            if total > sum(size for _, size in self.peak):
                self.peak = files
        return total

    def summary(self) -> str:
        """The peak's files by kind, their bytes; originals kept beside a remuxed or
        converted copy named apart from other staged files."""
        with self._lock:
            files = list(self.peak)
        count: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for name, bytes_ in files:
            kind = kind_of(name)
            if kind == "as staged" and _has_copy(name, files):
                kind = "original kept"
            count[kind] += 1
            size[kind] += bytes_
        parts = [f"{k} {count[k]} ({size[k] / MiB:.1f} MiB)" for k in sorted(count)]
        total = sum(size.values()) / MiB
        return f"peak work area {total:.1f} MiB, {sum(count.values())} files: " + ", ".join(parts)


def _has_copy(name: str, files: list[tuple[str, int]]) -> bool:
    """A remuxed or converted copy of this staged file is there too."""
    made = (Path(name).stem + ".remux.", Path(name).stem + ".converted.")
    return any(n.startswith(made) for n, _ in files)
