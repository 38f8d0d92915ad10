"""What both ends of a media box's calls share: the pipe's messages, the functions a call
may name, the sizes. Kept apart from ``pool`` so a worker's start imports neither asyncio
nor ``multiprocessing`` (a worker is a fresh interpreter: its imports are its start's
cost, and the engine starts one per call that finds none idle).
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import struct
from collections.abc import Callable
from typing import Any

MIB = 1 << 20
GROWN = 256 * MIB  # a worker whose resident peak grew this much in a call retires after it
# Preloaded by every worker before it says it is ready: what every picture needs.
PRELOAD = ("ferryman.media.probe", "ferryman.media.images")

_LENGTH = struct.Struct("!Q")  # each message's bytes, before them


def resolve(target: str) -> Callable[..., Any]:
    """``"ferryman.media.probe:probe"`` as the function it names (ferryman's only)."""
    module, _, name = target.partition(":")
    if not module.startswith("ferryman.media.") or not name:
        raise ValueError(f"not a media function: {target!r}")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


class Pipe:
    """One end of a pipe that carries pickled messages, each after its length (what
    ``multiprocessing.connection`` does, without its import: sockets, temporary files
    and ``subprocess``, a tenth of a worker's start). Both ends are ferryman's own, in
    the same interpreter: the pickles are trusted as the engine's own objects."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._closed = False

    def fileno(self) -> int:
        return self._fd

    def send(self, message: object) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        for part in (_LENGTH.pack(len(data)), data):  # no copy of a big answer to join them
            view = memoryview(part)
            while view:
                view = view[os.write(self._fd, view) :]

    def recv(self) -> Any:
        """The next message; ``EOFError`` when the other end closed the pipe."""
        (size,) = _LENGTH.unpack(self._read(_LENGTH.size))
        return pickle.loads(self._read(size))

    def poll(self, timeout: float) -> bool:
        """Whether a message (or the end) can be read within ``timeout`` seconds."""
        return bool(select.select([self._fd], [], [], timeout)[0])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def _read(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            read = os.readv(self._fd, [view[got:]])
            if not read:
                raise EOFError("the other end closed the pipe")
            got += read
        return buffer
