"""One engine per data dir on SQLite: two would fight over one file by accident.

The lock file holds the holder's process id and command (``web``, ``run``, ``serve``,
``demo``), so the refusal a second start gets names what really holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from ferryman.errors import FerrymanError


class DataDirLock:
    """An advisory ``flock``; the kernel drops it when the process dies, even by SIGKILL.
    ``command``: what the holder runs, as the refusal names it (``ferryman web``)."""

    def __init__(self, data_dir: Path, command: str = "run") -> None:
        self.path = data_dir / "run.lock"
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            said = _holder(fd)
            os.close(fd)
            raise FerrymanError(
                "engine.locked", f"{said} uses this data dir ({self.path})"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.command}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote: "`ferryman web` (process 1234)". A
    holder of an older version wrote only its pid; one caught before writing, nothing."""
    try:
        words = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        words = []
    pid = words[0] if words and words[0].isdigit() else None
    named = words[1:4]
    command = " ".join(named) if named and all(w.isidentifier() for w in named) else None
    who = f"`ferryman {command}`" if command else "another ferryman"
    return f"{who} (process {pid})" if pid else who
