"""The child side of the boxed libarchive reader (``archive.box.reader``): a forked process
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
from typing import NoReturn

from ferryman.archive.box.wire import (
    ABORT,
    BLOCK,
    COMMAND,
    DONE,
    END,
    ENTRY,
    ERROR,
    OPENED,
    REQUEST,
    Request,
    decode_request,
    encode_error,
    encode_info,
    write_frame,
)
from ferryman.archive.libarchive.backend import LibarchiveEntry, LibarchiveReader
from ferryman.archive.reader import EntryType
from ferryman.errors import FerrymanError

_FED_BUFFER = 1 << 20  # a streamed archive's pipe, read a pipe's worth at a time


def child_main(fds: tuple[int, ...]) -> NoReturn:
    """Run in the forked child: let go of the engine's things, then serve the archives
    the engine asks for, each within its budget, one after the other, until the engine
    closes the commands' pipe. Never returns.

    ``fds``: the frames' pipe (written), the commands' pipe (read), the lifeline
    (read: its end closes with the engine) and, for a streamed archive, its input (read).
    """
    status = 1
    try:
        gc.disable()
        out_fd, cmd_fd, lifeline, *fed = fds
        _let_go(keep=fds)
        _die_with_parent(lifeline)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        commands = _Commands(cmd_fd)
        while (payload := commands.request()) is not None:
            request = decode_request(payload)
            _budget(request.cpu_seconds, request.address_space)
            _serve(request, out_fd, commands, fed[0] if fed else None)
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


def _budget(cpu_seconds: int, extra_memory: int | None) -> None:
    """Past ``cpu_seconds`` more of CPU the kernel ends this process (SIGXCPU); past
    ``extra_memory`` more of address space an allocation fails (libarchive says so).
    Soft limits, set per archive (under the hard ones, kept as the engine had them)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    _soft(resource.RLIMIT_CPU, int(used.ru_utime + used.ru_stime) + cpu_seconds)
    mapped = _address_space()
    if extra_memory is None or mapped is None:
        _soft(resource.RLIMIT_AS, None)
    else:
        _soft(resource.RLIMIT_AS, mapped + extra_memory)


def _address_space() -> int | None:
    """This process's address space in bytes; None where the kernel does not say."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _soft(which: int, value: int | None) -> None:
    hard = resource.getrlimit(which)[1]
    soft = resource.RLIM_INFINITY if value is None else value
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
        soft = hard
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (soft, hard))


def _serve(request: Request, out_fd: int, commands: _Commands, fed: int | None) -> None:
    try:
        reader = _open(request, fed)
    except FerrymanError as exc:
        write_frame(out_fd, ERROR, 0, encode_error(exc))
        return
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


def _open(request: Request, fed: int | None) -> LibarchiveReader:
    """The request's archive: its file, or the bytes of the input pipe ``fed``."""
    if not request.stream:
        return LibarchiveReader(request.path, request.fmt, request.options)
    if fed is None:
        raise FerrymanError("archive.decoder_failed", f"{request.path}: no input to read")
    stream = os.fdopen(fed, "rb", buffering=_FED_BUFFER, closefd=False)
    return LibarchiveReader.from_stream(stream, request.path.name, request.options)


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
    """The engine's commands: ABORTs, read between blocks without waiting, and the
    next archive's request, waited for. An ABORT left when its archive ended is stale."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._pending = b""
        self._aborted = -1  # the latest entry the engine gave up, in this archive

    def request(self) -> bytes | None:
        """The next archive's request; None once the engine closed the pipe."""
        self._aborted = -1
        while True:
            while len(self._pending) >= COMMAND.size:
                kind, length = COMMAND.unpack_from(self._pending)
                if kind != REQUEST:
                    self._pending = self._pending[COMMAND.size :]
                    continue
                end = COMMAND.size + length
                if len(self._pending) < end:
                    break
                request, self._pending = self._pending[COMMAND.size : end], self._pending[end:]
                return request
            data = os.read(self._fd, 1 << 16)
            if not data:
                return None
            self._pending += data

    def aborted(self, number: int) -> bool:
        while self._poll.poll(0):
            data = os.read(self._fd, 4096)
            if not data:  # the engine closed its end: it wants nothing more
                return True
            self._pending += data
            while len(self._pending) >= COMMAND.size:
                kind, entry = COMMAND.unpack_from(self._pending)
                if kind != ABORT:
                    break  # a request: not before this archive ends
                self._aborted = max(self._aborted, entry)
                self._pending = self._pending[COMMAND.size :]
        return self._aborted >= number
