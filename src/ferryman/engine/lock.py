"""One `ferryman run` per data dir on SQLite: two would fight over one file by accident."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from ferryman.errors import FerrymanError


class DataDirLock:
    """An advisory ``flock``; the kernel drops it when the process dies, even by SIGKILL."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "run.lock"
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise FerrymanError(
                "engine.locked", f"another `ferryman run` holds {self.path}"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
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
