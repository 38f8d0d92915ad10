"""Decoding untrusted media in a child process that limits end, never the engine.

A decoder works inside whatever process calls it: an MP4 whose sample tables declare
88 million samples made FFmpeg build an index of gigabytes in the engine itself (3 GiB,
24 s, then delivered), and one with thirty such tracks held its job, every job behind
it and a graceful stop (a thread cannot be interrupted). So the engine asks a
``MediaBox`` instead: a worker process (``box.worker``) runs the named function on the
file, confined for that call, and answers with its result. The call ends
``media.decode_memory`` past its address-space cap (``RLIMIT_AS`` over the worker's own
size when the call starts), ``media.decode_timeout`` past its CPU seconds
(``RLIMIT_CPU``: the kernel ends the worker) or its wall-clock seconds (the engine
kills it), and ``media.decoder_crashed`` when the worker dies otherwise. A stop asked
for while a call runs kills the worker at once (``Stopped``). Only that call's file
fails: the next call gets a fresh worker.

Workers are warm: each serves call after call (a worker's start costs ~0.2 s of
Python and Pillow, a call a pipe's round trip), up to ``keep`` idle ones are kept, and
a worker that grew (a big decode leaves its heap large) retires after answering.
A worker is a fresh interpreter (``python -m ferryman.media.box.worker``), not a copy
of the engine: it holds none of the engine's threads, locks or connections, and it
loads PyAV only when a video comes (a run of photos never does). It dies with the
engine (a lifeline pipe, as ``media.child``'s children) and ignores SIGINT and SIGTERM
(a Ctrl-C or a service's stop reaches the whole group: the engine decides, then kills
it). ``InProcess`` runs the same calls in the calling thread (tests, tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ferryman.errors import FerrymanError
from ferryman.media.box.calls import MIB, Pipe, resolve

log = logging.getLogger(__name__)

DEFAULT_MEMORY = 1 << 30  # address space a call may add (``media.decode_memory``)
CPU_BASE = 10.0  # seconds of CPU any file may take (a 40 MP JPEG's fit: ~1 s)
CPU_PER_MIB = 1.0  # and per MiB of it (a remux reads it all: ~0.01 s a MiB here)
WALL_FACTOR = 3.0  # wall-clock seconds per CPU second allowed (a loaded machine, a disk)
KEEP_IDLE = 2  # idle workers kept warm
_POLL = 0.05  # seconds between looks for a stop while a call runs
_START_SECONDS = 60.0  # a worker that does not say it is ready in this long has failed

WORKER_MODULE = "ferryman.media.box.worker"


class Stopped(BaseException):
    """The engine is stopping: the call was cut short and its worker killed. A
    BaseException, so no ``except Exception`` takes it for the file's failure."""


class DecoderBug(Exception):
    """The decoder (or our code on its bytes) raised something unexpected in the worker:
    the file's fault, not the machine's (its traceback is in the log)."""


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """One call's confinement: address space it may add, CPU and wall-clock seconds."""

    memory: int = DEFAULT_MEMORY
    cpu_seconds: float = CPU_BASE
    wall_seconds: float = CPU_BASE * WALL_FACTOR

    @classmethod
    def for_size(cls, size: int | None, memory: int = DEFAULT_MEMORY) -> DecodeLimits:
        """Limits for a file of ``size`` bytes: its time grows with its bytes."""
        cpu = CPU_BASE + CPU_PER_MIB * (size or 0) / MIB
        return cls(memory, cpu, cpu * WALL_FACTOR)


class Decoder(Protocol):
    """Where media is decoded: ``run("module:function", *args, **kwargs)`` returns what
    the function returns, or raises its ``FerrymanError`` (or a limit's); ``run_async``
    is ``run`` on a thread, for the event loop."""

    def run(
        self,
        target: str,
        *args: Any,
        limits: DecodeLimits,
        stop: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> Any: ...

    async def run_async(
        self, target: str, *args: Any, limits: DecodeLimits, **kwargs: Any
    ) -> Any: ...

    def close(self) -> None: ...


class InProcess:
    """Runs the call in the calling thread, unconfined (tests and tools, not the engine)."""

    def run(
        self,
        target: str,
        *args: Any,
        limits: DecodeLimits,
        stop: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        return resolve(target)(*args, **kwargs)

    async def run_async(self, target: str, *args: Any, limits: DecodeLimits, **kwargs: Any) -> Any:
        return await asyncio.to_thread(resolve(target), *args, **kwargs)

    def close(self) -> None:
        return


IN_PROCESS = InProcess()


class _Worker:
    """One worker process and the engine's ends of its pipes."""

    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        life_r, life_w = os.pipe()
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}  # no 64 MiB arena a thread
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(req_r), str(resp_w), str(life_r)],
                pass_fds=(req_r, resp_w, life_r),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in (req_w, resp_r, life_w):
                os.close(fd)
            raise
        finally:
            for fd in (req_r, resp_w, life_r):
                os.close(fd)
        self.requests = Pipe(req_w)
        self.answers = Pipe(resp_r)
        self.lifeline = life_w
        self.ready = False
        self._status: int | None = None

    def wait_ready(self, stop: Callable[[], bool] | None) -> None:
        """Until the worker has loaded ``calls.PRELOAD`` and says so."""
        deadline = time.monotonic() + _START_SECONDS
        while not self.answers.poll(_POLL):
            if stop is not None and stop():
                raise Stopped
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise OSError(errno.ECHILD, f"no media worker (exit {self.process.poll()})")
        try:
            said = self.answers.recv()
        except EOFError:
            said = None
        if said != ("ready",):
            raise OSError(errno.ECHILD, "the media worker said something else than ready")
        self.ready = True

    def end(self) -> int:
        """Killed (if still there), reaped, its pipes closed, once; its exit status."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self._status = self.process.wait()
            self.requests.close()
            self.answers.close()
            os.close(self.lifeline)
        return self._status


class MediaBox:
    """The engine's decoders, each call in a confined worker (module docstring).
    Thread-safe: each call takes a worker of its own."""

    def __init__(self, keep: int = KEEP_IDLE) -> None:
        self._keep = keep
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _end_all, self._idle)

    def run(
        self,
        target: str,
        *args: Any,
        limits: DecodeLimits,
        stop: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``target(*args, **kwargs)`` in a worker, within ``limits``; ``stop``: asked
        while it runs, true ends it (``Stopped``)."""
        request = (target, args, kwargs, limits.cpu_seconds, limits.memory)
        worker = self._take()
        try:
            if not worker.ready:
                worker.wait_ready(stop)
            try:
                worker.requests.send(request)
            except BrokenPipeError:  # an idle worker that died between calls: not the file's
                worker.end()
                worker = _Worker()
                worker.wait_ready(stop)
                worker.requests.send(request)
            answer = self._answer(worker, target, args, limits, stop)
        except BaseException:
            worker.end()
            raise
        outcome, retire, logged = answer
        for name, level, message in logged:
            logging.getLogger(name).log(level, "%s", message)
        if retire:
            worker.end()
        else:
            self._give_back(worker)
        return _result(outcome, target, args)

    async def run_async(self, target: str, *args: Any, limits: DecodeLimits, **kwargs: Any) -> Any:
        """``run`` on a thread; a cancel kills the call's worker and is raised at once."""
        cancelled = threading.Event()
        call = asyncio.ensure_future(
            asyncio.to_thread(
                self.run, target, *args, limits=limits, stop=cancelled.is_set, **kwargs
            )
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            cancelled.set()
            with contextlib.suppress(BaseException):  # its worker is killed within _POLL
                await call
            raise

    def close(self) -> None:
        """End the idle workers (a busy one ends with its call)."""
        with self._lock:
            self._finalizer()

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._finalizer.alive and len(self._idle) < self._keep:
                self._idle.append(worker)
                return
        worker.end()

    def _answer(
        self,
        worker: _Worker,
        target: str,
        args: tuple[Any, ...],
        limits: DecodeLimits,
        stop: Callable[[], bool] | None,
    ) -> tuple[tuple[Any, ...], bool, list[tuple[str, int, str]]]:
        """The worker's answer: (outcome, retire, log lines), or a limit's error."""
        deadline = time.monotonic() + limits.wall_seconds
        while True:
            try:
                if select.select([worker.answers], [], [], _POLL)[0]:
                    answer: tuple[tuple[Any, ...], bool, list[tuple[str, int, str]]]
                    answer = worker.answers.recv()
                    return answer
            except (EOFError, OSError):
                raise _died(worker.end(), target, args, limits) from None
            if stop is not None and stop():
                raise Stopped
            if time.monotonic() > deadline:
                worker.end()
                raise FerrymanError(
                    "media.decode_timeout",
                    f"{_name(target, args)}: still decoding after"
                    f" {limits.wall_seconds:g} s (its wall-clock limit)",
                )


def _end_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().end()


def _name(target: str, args: tuple[Any, ...]) -> str:
    """The file a call was about (its first argument), else the function."""
    first = args[0] if args else None
    return str(getattr(first, "name", None) or target.rpartition(":")[2])


def _died(status: int, target: str, args: tuple[Any, ...], limits: DecodeLimits) -> FerrymanError:
    """The error for a worker that died in a call, from its exit status."""
    name = _name(target, args)
    if status == -signal.SIGXCPU:
        return FerrymanError(
            "media.decode_timeout",
            f"{name}: used its {limits.cpu_seconds:g} s of CPU (its CPU limit)",
        )
    return FerrymanError(
        "media.decoder_crashed", f"{name}: the decoder's process died (exit status {status})"
    )


def _result(outcome: tuple[Any, ...], target: str, args: tuple[Any, ...]) -> Any:
    """The call's value, or its error raised here as the engine would have met it."""
    kind = outcome[0]
    if kind == "ok":
        return outcome[1]
    if kind == "error":  # a FerrymanError: its code and message
        raise FerrymanError(str(outcome[1]), str(outcome[2]))
    if kind == "memory":
        raise FerrymanError(
            "media.decode_memory",
            f"{_name(target, args)}: needed more than its {outcome[1] // MIB} MiB of memory",
        )
    if kind == "oserror":  # a system call's failure (a full disk): the machine's
        raise OSError(int(outcome[1]), str(outcome[2]), outcome[3])
    log.error("%s in the media worker:\n%s", target, outcome[2])
    raise DecoderBug(str(outcome[1]))
