"""The child side of the boxed libarchive reader (``archive.boxed``): a forked process
that opens one archive with libarchive and streams its entries over a pipe.

It starts as a copy of the engine, so before anything else it lets go of what it
copied: every file descriptor but its pipes (the store's connections and sockets are
the engine's alone), the garbage collector (no finalizer of the engine's objects runs
here), and it ends with ``os._exit`` (no atexit hook, no flush). It imports nothing
(the modules are loaded before the fork), and it is confined: CPU seconds
(``RLIMIT_CPU``), address space (``RLIMIT_AS``) and no core file. Whatever hangs or
crashes here costs this process only: the engine's watchdog ends it.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import resource
import select
import signal
from pathlib import Path
from typing import NoReturn

from ferryman.archive.box_wire import (
    ABORT,
    BLOCK,
    COMMAND,
    DONE,
    END,
    ENTRY,
    ERROR,
    OPENED,
    encode_error,
    encode_info,
    write_frame,
)
from ferryman.archive.libarchive_backend import LibarchiveEntry, LibarchiveReader
from ferryman.archive.reader import EntryType, OpenOptions
from ferryman.errors import FerrymanError


def child_main(
    path: Path,
    fmt: str,
    options: OpenOptions,
    fds: tuple[int, int, int],
    limits: tuple[int, int | None],
) -> NoReturn:
    """Run in the forked child: confine it, serve the archive, exit. Never returns.

    ``fds``: the frames' pipe (written), the commands' pipe (read) and the lifeline
    (read: its end closes with the engine). ``limits``: CPU seconds, address space
    in bytes (None: none set).
    """
    status = 1
    try:
        gc.disable()
        out_fd, cmd_fd, lifeline = fds
        _let_go(keep=fds)
        _die_with_parent(lifeline)
        _confine(*limits)
        _serve(path, fmt, options, out_fd, cmd_fd)
        status = 0
    finally:
        os._exit(status)


def _let_go(keep: tuple[int, ...]) -> None:
    """Close every descriptor above stderr but ``keep``; ignore Ctrl-C (the engine
    ends this process itself)."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _die_with_parent(lifeline: int) -> None:
    """SIGKILL this process when the engine dies: the engine holds the lifeline's only
    other end, so it closes (the read end turns readable) when the engine ends, and the
    kernel then sends the signal, however busy libarchive is."""
    with contextlib.suppress(AttributeError, OSError):  # F_SETSIG: Linux only
        fcntl.fcntl(lifeline, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(lifeline, fcntl.F_SETSIG, signal.SIGKILL)
        fcntl.fcntl(lifeline, fcntl.F_SETFL, fcntl.fcntl(lifeline, fcntl.F_GETFL) | os.O_ASYNC)
    if select.select([lifeline], [], [], 0)[0]:  # gone before the signal was asked for
        os._exit(1)


def _confine(cpu_seconds: int, address_space: int | None) -> None:
    """Hard limits: past ``cpu_seconds`` the kernel ends this process (SIGXCPU, then
    SIGKILL); past ``address_space`` an allocation fails (libarchive says so)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if address_space is not None:
        with contextlib.suppress(ValueError, OSError):  # a hard limit lower already
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def _serve(path: Path, fmt: str, options: OpenOptions, out_fd: int, cmd_fd: int) -> None:
    try:
        reader = LibarchiveReader(path, fmt, options)
    except FerrymanError as exc:
        write_frame(out_fd, ERROR, 0, encode_error(exc))
        return
    commands = _Commands(cmd_fd)
    with reader:
        write_frame(out_fd, OPENED, reader.consumed())
        try:
            for number, entry in enumerate(reader):
                write_frame(out_fd, ENTRY, reader.consumed(), encode_info(entry.info))
                if entry.info.type is EntryType.FILE:
                    _send_blocks(reader, entry, out_fd, commands, number)
                else:
                    write_frame(out_fd, END, reader.consumed())
        except FerrymanError as exc:
            write_frame(out_fd, ERROR, reader.consumed(), encode_error(exc))
            return
        write_frame(out_fd, DONE, reader.consumed())


def _send_blocks(
    reader: LibarchiveReader, entry: LibarchiveEntry, out_fd: int, commands: _Commands, number: int
) -> None:
    try:
        for block in entry.read_blocks():
            write_frame(out_fd, BLOCK, reader.consumed(), block)
            if commands.aborted(number):
                break
    except FerrymanError as exc:
        write_frame(out_fd, ERROR, reader.consumed(), encode_error(exc))
        return
    write_frame(out_fd, END, reader.consumed())


class _Commands:
    """The engine's ABORTs, read between blocks without waiting."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._pending = b""
        self._aborted = -1  # the latest entry the engine gave up

    def aborted(self, number: int) -> bool:
        while self._poll.poll(0):
            data = os.read(self._fd, 4096)
            if not data:  # the engine closed its end: it wants nothing more
                return True
            self._pending += data
            whole = len(self._pending) - len(self._pending) % COMMAND.size
            for kind, entry in COMMAND.iter_unpack(self._pending[:whole]):
                if kind == ABORT:
                    self._aborted = max(self._aborted, entry)
            self._pending = self._pending[whole:]
        return self._aborted >= number
