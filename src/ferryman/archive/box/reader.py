"""libarchive's reading of an archive file, in a child process that a watchdog can end.

A C call cannot be interrupted in-process: a small malformed xar whose file is marked
as a hard link's original twice sends libarchive 3.6 (bsdtar too) round a list that
points at itself, at 100 % CPU for good, and a reading thread stuck there held its job
(and every job behind it) until the engine was killed. So each archive file libarchive
reads is read by a child forked for it (``box.child``), which streams the entries
over a pipe, unasked (``box.wire``; the engine only stops an entry it passes over).
The engine ends the child
(``archive.decoder_failed``; ``open_archive`` then hands the archive to 7zz from that
entry on) when:

* it sends nothing and reads no byte of its input for ``ArchiveLimits.stall_seconds``
  (its input read is ``rchar`` in ``/proc/PID/io``: skipping a big solid entry reads
  on, a spinning loop reads nothing);
* it uses more CPU than its archive can need (``RLIMIT_CPU``: a minute plus 4 s per
  MiB of archive; the kernel ends it);
* it dies (a crash is its own: ``RLIMIT_AS`` caps its memory at its address space
  when it starts the archive plus ``decoder_memory``, so a hostile size fails an
  allocation, not the phone).

Cost: a fork per job (``BoxPool``: a child that read an archive to its end takes the
job's next; the engine's pages are shared, copied on its first write to each) and one
pipe hop per block. A child that cannot be forked (no memory for it) is reported by
``OSError``: the caller reads in-process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from ferryman.archive.box.child import child_main
from ferryman.archive.box.wire import (
    ABORT,
    BLOCK,
    COMMAND,
    DECODER_FAILED,
    DONE,
    END,
    ENTRY,
    ERROR,
    HEADER,
    KINDS,
    MAX_PAYLOAD,
    OPENED,
    Request,
    decode_error,
    decode_info,
    encode_request,
)
from ferryman.archive.reader import EntryInfo, OpenOptions
from ferryman.errors import FerrymanError

_CPU_BASE = 60  # seconds of CPU any archive may take
_CPU_PER_MIB = 4  # and per MiB of it: 256 KB/s of packed input (at 200:1, 50 MB/s out)
_PIPE_BYTES = 1 << 20  # a block and its header fit the pipe at once
_SLICE = 0.25  # seconds between looks at a quiet child
_READ_AHEAD = 1 << 20  # bytes of frames asked for at once (the pipe's size)
_RUNS_A_PROGRAM = frozenset({"lrzip", "lzop"})  # libarchive pipes through the program


class _Child:
    """The forked process and the engine's ends of its pipes; ended once, by whoever
    comes first (``close``, or the garbage collector through ``weakref.finalize``)."""

    def __init__(self, pid: int, out: int, cmd: int, lifeline: int) -> None:
        self.pid = pid
        self.out = out
        self.cmd = cmd
        self.lifeline = lifeline
        self.status: int | None = None  # its wait status, once reaped

    def reap(self) -> int:
        if self.status is None:
            try:
                self.status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:  # reaped by someone else's waitpid(-1)
                self.status = 0
        return self.status

    def end(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.reap()
        for fd in (self.out, self.cmd, self.lifeline):
            with contextlib.suppress(OSError):
                os.close(fd)


class BoxPool:
    """The libarchive children of one job, each kept for its next archive once it has
    read one to its end: a fork per archive made the engine copy its pages again for
    each (24 ms of CPU per small zip of a folder of zips). Used from one reading
    thread at a time; ``close`` ends the idle ones (a busy one ends with its reader)."""

    def __init__(self) -> None:
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _end_all, self._idle)

    def take(self) -> _Child | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, child: _Child) -> None:
        with self._lock:
            if self._finalizer.alive:
                self._idle.append(child)
                return
        child.end()  # the pool was closed meanwhile

    def holds(self) -> bool:
        """Whether an idle child is kept: ``close`` then ends it (blocking)."""
        with self._lock:
            return bool(self._idle)

    def close(self) -> None:
        with self._lock:
            self._finalizer()


def _end_all(children: list[_Child]) -> None:
    while children:
        children.pop().end()


def _fork() -> _Child:
    """A new child, waiting for its first request."""
    return fork_fed(fed=False)[0]


def fork_fed(*, fed: bool) -> tuple[_Child, int | None]:
    """A new child, waiting for its first request; with ``fed``, also the write end of
    the pipe it reads a streamed archive from (``box.stream``)."""
    out_r, out_w = os.pipe()
    cmd_r, cmd_w = os.pipe()
    life_r, life_w = os.pipe()
    feed = os.pipe() if fed else None
    for fd in (out_w, *(feed[1:] if feed else ())):
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    try:
        pid = os.fork()
    except OSError:
        for fd in (out_r, out_w, cmd_r, cmd_w, life_r, life_w, *(feed or ())):
            os.close(fd)
        raise
    if pid == 0:
        child_main((out_w, cmd_r, life_r, *(feed[:1] if feed else ())))
    for fd in (out_w, cmd_r, life_r, *(feed[:1] if feed else ())):
        os.close(fd)
    os.set_blocking(out_r, False)
    return _Child(pid, out_r, cmd_w, life_w), (feed[1] if feed else None)


class BoxedLibarchiveReader:
    """An archive file read by libarchive in a child; the ``ArchiveReader`` surface of
    ``LibarchiveReader`` (entries, their blocks, ``consumed``), iterated once. With
    ``options.box``, a child the job kept is used, and kept again at the end."""

    def __init__(self, path: Path, fmt: str, options: OpenOptions) -> None:
        cpu = cpu_budget(_size(path))
        pool = options.box
        child = pool.take() if pool is not None else None
        # lrzip and lzop run as programs of their own, sized by the machine's memory
        memory = None if fmt in _RUNS_A_PROGRAM else options.limits.decoder_memory
        request = Request(path, fmt, options, cpu, memory)
        self._start(child or _fork(), pool, path.name, request)

    def _start(self, child: _Child, pool: BoxPool | None, name: str, request: Request) -> None:
        """Hand ``request`` to ``child`` and wait until it opened the archive."""
        self._name = name
        self._stall = request.options.limits.stall_seconds
        self._cpu = request.cpu_seconds
        self._pool = pool
        self._child = child
        self._finalizer = weakref.finalize(self, child.end)
        self._poll = select.poll()
        self._poll.register(child.out, select.POLLIN)
        self._consumed = 0
        self._buffer = bytearray()  # frames read ahead, from ``_at`` on
        self._at = 0
        self._failure: FerrymanError | None = None
        self._generation = 0
        self._number = -1  # the current entry's number among the headers
        self._flowing = False  # its bytes may still be on their way
        self._iterated = False
        self._ended = False  # the child is done with this archive, and may take another
        self._send(encode_request(request))
        kind, payload = self._recv()
        if kind == ERROR:
            self._ended = True
            self.close()
            raise decode_error(payload, self._name)
        if kind != OPENED:
            self._fail("sent a frame out of order")

    # -- the ArchiveReader surface --------------------------------------------------

    def __enter__(self) -> BoxedLibarchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._generation += 1
        if self._ended and self._pool is not None and self._finalizer.detach() is not None:
            self._pool.give_back(self._child)
        self._finalizer()

    def consumed(self) -> int:
        return self._consumed

    def __iter__(self) -> Iterator[BoxedEntry]:
        if self._iterated:
            raise RuntimeError(f"{self._name}: an archive reader is iterated only once")
        self._iterated = True
        return self._entries()

    def _entries(self) -> Iterator[BoxedEntry]:
        while True:
            self._settle()
            kind, payload = self._recv()
            if kind == DONE:
                self._ended = True
                return
            if kind == ERROR:  # the archive's: the child is done with it
                self._ended = True
                raise decode_error(payload, self._name)
            if kind != ENTRY:
                self._fail("sent a frame out of order")
            try:
                info = decode_info(payload)
            except (ValueError, TypeError):
                self._fail("sent a malformed entry header")
            self._generation += 1
            self._number += 1
            self._flowing = True
            yield BoxedEntry(self, info, self._generation)

    def blocks(self, generation: int) -> Iterator[bytes]:
        """The current entry's bytes, as the child sends them (``BoxedEntry.read_blocks``)."""
        self.check_current(generation)
        while True:
            kind, payload = self._recv()
            if kind == BLOCK:
                yield payload
                self.check_current(generation)
            elif kind == END:
                self._flowing = False
                return
            elif kind == ERROR:
                self._flowing = False
                raise decode_error(payload, self._name)
            else:
                self._fail("sent a frame out of order")

    def check_current(self, generation: int) -> None:
        if generation != self._generation:
            raise RuntimeError(f"{self._name}: entry read after the reader advanced")

    # -- the child ------------------------------------------------------------------

    def _settle(self) -> None:
        """Before the next header: what is left of the current entry's bytes, stopped
        (an entry not read, or read in part) and passed over."""
        if not self._flowing:
            return
        self._send(COMMAND.pack(ABORT, self._number))
        while self._recv()[0] == BLOCK:  # at most the blocks already on their way
            pass
        self._flowing = False

    def _usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if not self._finalizer.alive:
            raise RuntimeError(f"{self._name}: archive reader used after it was closed")

    def _send(self, command: bytes) -> None:
        self._usable()
        with contextlib.suppress(OSError):  # it died: the next frame says how
            os.write(self._child.cmd, command)

    def _recv(self) -> tuple[bytes, bytes]:
        self._usable()
        kind, length, consumed = HEADER.unpack(self._read(HEADER.size))
        if kind not in KINDS or length > MAX_PAYLOAD:
            self._fail("sent a malformed frame")
        payload = self._read(length) if length else b""
        self._consumed = max(0, consumed)
        return kind, payload

    def _read(self, n: int) -> bytes:
        """``n`` bytes of the frames, read ahead in large pieces: one system call (and
        one wait for the GIL, which a busy event loop makes slow) serves many frames."""
        while len(self._buffer) - self._at < n:
            try:
                piece = os.read(self._child.out, max(_READ_AHEAD, n))
            except BlockingIOError:
                self._wait()
                continue
            if not piece:
                self._fail(self._death())
            if self._at:
                del self._buffer[: self._at]
                self._at = 0
            self._buffer += piece
        start, self._at = self._at, self._at + n
        return bytes(self._buffer[start : self._at])

    def _wait(self) -> None:
        """Until the child sends; one that neither sends nor reads its input for
        ``stall_seconds`` is stalled (its CPU is no sign of progress: a loop spins)."""
        quiet_since = time.monotonic()
        if self._poll.poll(int(_SLICE * 1000)):
            return  # the usual wait: no look at /proc (each system call waits for the GIL)
        seen = _input_read(self._child.pid)
        while not self._poll.poll(int(_SLICE * 1000)):
            now = time.monotonic()
            read = _input_read(self._child.pid)
            if read != seen or self._input_waits():
                seen, quiet_since = read, now
            elif now - quiet_since >= self._stall:
                self._fail(f"made no progress for {self._stall:g} s (a malformed archive?)")

    def _input_waits(self) -> bool:
        """Whether the child's input is late, not the child (a file never is)."""
        return False

    def _death(self) -> str:
        status = self._child.reap()
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return f"used more than {self._cpu} s of CPU"
            if sig == signal.SIGKILL:
                return "was killed (out of memory?)"
            return f"crashed ({signal.Signals(sig).name})"
        return f"ended unexpectedly (exit status {os.WEXITSTATUS(status)})"

    def _fail(self, reason: str) -> NoReturn:
        """End the child; this reader says ``reason`` from now on."""
        self._failure = FerrymanError(DECODER_FAILED, f"{self._name}: libarchive {reason}")
        self._finalizer()
        raise self._failure


class BoxedEntry:
    """One entry of a ``BoxedLibarchiveReader``; readable while it is the current one."""

    __slots__ = ("_generation", "_reader", "_started", "info")

    def __init__(self, reader: BoxedLibarchiveReader, info: EntryInfo, generation: int) -> None:
        self.info = info
        self._reader = reader
        self._generation = generation
        self._started = False

    def read_blocks(self) -> Iterator[bytes]:
        self._reader.check_current(self._generation)
        if self._started:
            raise RuntimeError(f"{self.info.path}: read_blocks may be called once per entry")
        self._started = True
        return self._reader.blocks(self._generation)


def cpu_budget(size: int) -> int:
    """CPU seconds an archive of ``size`` packed bytes may take."""
    return _CPU_BASE + _CPU_PER_MIB * (size >> 20)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _input_read(pid: int) -> int | None:
    """Bytes the process has read (``rchar``), or None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/io", "rb") as f:
            for line in f:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
