"""Run a blocking conversion in a child process, so a timeout or a cancel can really stop it.

FFmpeg work in a thread cannot be interrupted; a process can be killed. The child
reports progress and its outcome over a pipe; the parent polls it from asyncio
without blocking the loop. The child never copies the engine's own process (its
locks, threads, event loop), so ``target`` must be a module-level function:
- where the platform has it, children fork from multiprocessing's *forkserver*, a
  template process that has loaded the modules children need (``warm``): a child is
  ready in milliseconds, where a fresh interpreter that imports yt-dlp or PyAV takes
  ~0.3 s (a link's whole download is often ten times that);
- elsewhere, each child is a fresh interpreter (``spawn``).
Either way the child runs with the environment, working folder and ``sys.path`` the
parent has when it starts the child, not those the template started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from ferryman.errors import FerrymanError, ServerWait

POLL_INTERVAL = 0.02  # seconds between looks at the pipe
TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# Messages from the child: ("progress", fraction), ("event", name, value), then
# ("ok",) or ("error", code, message, wait) (wait: a ServerWait's seconds, else None).
_Message = tuple[Any, ...]
EventHandler = Callable[[str, Any], None]


async def run_in_child(
    target: Callable[..., None],
    kwargs: dict[str, Any],
    *,
    on_progress: Callable[[float], None] | None,
    timeout: float,  # noqa: ASYNC109 (its own error code, not a CancelledError)
    on_event: EventHandler | None = None,
) -> None:
    """Run ``target(**kwargs, progress=...)`` in a child process and wait for it.

    With ``on_event``, the target also gets ``event(name, value)``; every event reaches
    ``on_event`` in order, before the outcome (progress reports may be thinned out).

    Raises ``media.convert_timeout`` after ``timeout`` seconds, the child's own
    FerrymanError (same code; a ``ServerWait`` keeps its seconds) if it raised one, and
    ``media.convert_failed`` if it raised anything else or died. On timeout and on
    cancellation the child is killed.
    """
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    lifeline, held = ctx.Pipe(duplex=False)  # EOF in the child: the parent is gone
    surroundings = _Surroundings(dict(os.environ), os.getcwd(), list(sys.path))
    process = ctx.Process(
        target=_child_main,
        args=(target, kwargs, sender, on_event is not None, lifeline, surroundings),
        name=f"ferryman-{target.__name__}",
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        await _start(process)
    except Exception as exc:  # e.g. a target or kwargs that cannot be pickled
        receiver.close()
        held.close()
        raise FerrymanError(
            "media.convert_failed", f"{_describe(target, kwargs)}: cannot start worker ({exc})"
        ) from exc
    except BaseException:  # cancelled: _start waited for the child, which is stopped here
        receiver.close()
        try:
            await _stop(process, finishing=False)
        finally:
            held.close()
        raise
    finally:
        sender.close()  # the child holds the only writer now: EOF means it is gone
        lifeline.close()
    outcome: _Message | None = None
    try:
        outcome = await _wait(process, receiver, on_progress, on_event, deadline, loop)
        if outcome is None:
            raise FerrymanError(
                "media.convert_timeout", f"{_describe(target, kwargs)} exceeded {timeout:g} s"
            )
        _raise_for(outcome, process, target, kwargs)
    finally:
        receiver.close()
        try:
            await _stop(process, finishing=outcome is not None)
        finally:
            held.close()


@dataclass(frozen=True)
class _Surroundings:
    """What a spawned child would inherit from the parent at the moment it starts; a
    forked one gets the template's, from when it started, so these are sent along."""

    environ: dict[str, str]
    cwd: str
    path: list[str]

    def enter(self) -> None:
        os.environ.clear()
        os.environ.update(self.environ)
        os.chdir(self.cwd)
        sys.path[:] = self.path


def _context() -> ForkServerContext | SpawnContext:
    """The forkserver where the platform has one, else spawn (module docstring)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def warm(modules: Sequence[str]) -> None:
    """Start the template children fork from now, loading ``modules`` (those the
    targets live in, and what they import), so it loads while the caller does its own
    start-up. The template is the standard library's, one per process: only the first
    call's ``modules`` count. Without it, the first child starts the template itself."""
    ctx = _context()
    if not isinstance(ctx, ForkServerContext):
        return
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(list(modules))
    forkserver.ensure_running()


async def _start(process: BaseProcess) -> None:
    """``process.start()`` in a thread of its own: a forkserver still loading its
    modules answers only once it has, and the loop must not wait for it (nor the start
    for a busy shared pool). A cancel waits for the start (so the caller can stop the
    child it made) before it goes on."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()
    ended = threading.Event()

    def settle(failure: BaseException | None) -> None:
        if started.done():  # cancelled meanwhile
            return
        if failure is None:
            started.set_result(None)
        else:
            started.set_exception(failure)

    def start() -> None:
        failure: BaseException | None = None
        try:
            process.start()
        except BaseException as exc:  # handed to the waiting task
            failure = exc
        finally:
            ended.set()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, failure)

    threading.Thread(target=start, name="child-start", daemon=True).start()
    try:
        await started
    except asyncio.CancelledError:
        ended.wait()  # blocks the loop, but only a cancel in these few moments does
        raise


async def _wait(
    process: BaseProcess,
    receiver: Connection,
    on_progress: Callable[[float], None] | None,
    on_event: EventHandler | None,
    deadline: float,
    loop: asyncio.AbstractEventLoop,
) -> _Message | None:
    """The child's final message (("died",) if it left none), or None on timeout."""
    while True:
        latest: float | None = None
        final: _Message | None = None
        try:
            while final is None and receiver.poll():
                message = receiver.recv()
                if message[0] == "progress":
                    latest = float(message[1])
                elif message[0] == "event":
                    if on_event is not None:
                        on_event(str(message[1]), message[2])
                else:
                    final = tuple(message)
        except (EOFError, OSError):
            final = ("died",)
        if latest is not None and on_progress is not None:
            on_progress(latest)  # only the newest of a burst: the rest is stale
        if final is not None:
            return final
        if not process.is_alive() and not receiver.poll():
            return ("died",)
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(POLL_INTERVAL)


def _raise_for(
    outcome: _Message, process: BaseProcess, target: Callable[..., None], kwargs: dict[str, Any]
) -> None:
    if outcome[0] == "ok":
        return
    if outcome[0] == "error":
        code, message, wait = outcome[1], outcome[2], outcome[3]
        if wait is not None:
            raise ServerWait(str(code), str(message), int(wait))
        raise FerrymanError(str(code), str(message))
    process.join(TERM_GRACE)
    raise FerrymanError(
        "media.convert_failed",
        f"{_describe(target, kwargs)}: the worker process died (exit code {process.exitcode})",
    )


async def _stop(process: BaseProcess, *, finishing: bool) -> None:
    """End the child: SIGTERM, a short grace, then SIGKILL; always reaped before returning.

    A ``finishing`` child (it sent its outcome) first gets a grace period to exit itself.
    """
    if process.pid is None:  # never started: its start failed while we were cancelled
        return
    try:
        if finishing:
            await _exited(process)
        if process.is_alive():
            process.terminate()
            await _exited(process)
    finally:  # also when cancelled again during the grace period
        if process.is_alive():
            process.kill()
        process.join()
        process.close()


async def _exited(process: BaseProcess) -> None:
    for _ in range(int(TERM_GRACE / POLL_INTERVAL)):
        if not process.is_alive():
            return
        await asyncio.sleep(POLL_INTERVAL)


def _describe(target: Callable[..., None], kwargs: dict[str, Any]) -> str:
    src = kwargs.get("src")
    name = getattr(src, "name", None) or target.__name__
    return str(name)


def _die_with_parent(lifeline: Connection) -> None:
    """SIGKILL this child when the parent dies (``kill -9`` on ferryman).

    Without it an orphaned encoder runs on, and after a restart two processes would
    write the same parts. Two ways, as each start method allows:
    - a thread waits on the lifeline, whose other end only the parent holds: it ends
      when the parent does, whoever made this process;
    - Linux's parent-death signal, when the process that made this one is the parent
      itself (spawn; a forked child's maker is the template, which outlives it). It
      needs no thread to get the GIL. Elsewhere (no prctl) the lifeline is all there is.
    """
    watcher = threading.Thread(target=_watch, args=(lifeline,), name="lifeline", daemon=True)
    watcher.start()
    spawner = multiprocessing.parent_process()
    if spawner is None or spawner.pid != os.getppid():
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != spawner.pid:  # the parent died before the request took effect
        os._exit(1)


def _watch(lifeline: Connection) -> None:
    """Wait for the parent's end of the lifeline to close, then end this process."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            lifeline.recv_bytes()  # the parent sends nothing; only EOF comes
    os.kill(os.getpid(), signal.SIGKILL)


def _child_main(
    target: Callable[..., None],
    kwargs: dict[str, Any],
    sender: Connection,
    events: bool,
    lifeline: Connection,
    surroundings: _Surroundings,
) -> None:
    """Runs in the child: call ``target`` and send its outcome to the parent."""

    def send(fraction: float) -> None:
        sender.send(("progress", fraction))

    def event(name: str, value: Any) -> None:
        sender.send(("event", name, value))

    extra: dict[str, Any] = {"event": event} if events else {}
    _die_with_parent(lifeline)
    surroundings.enter()
    try:
        target(**kwargs, **extra, progress=send)
    except FerrymanError as exc:
        wait = exc.seconds if isinstance(exc, ServerWait) else None
        sender.send(("error", exc.code, exc.message, wait))
    except BaseException as exc:  # the parent must hear about anything, even KeyboardInterrupt
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        failed = f"{_describe(target, kwargs)}: {detail}"
        sender.send(("error", "media.convert_failed", failed, None))
    else:
        sender.send(("ok",))
    finally:
        sender.close()
        # The parent waits for this process to end: its last act would be a full
        # collection of a heap (yt-dlp, PyAV) that is about to go anyway, ~0.2 s.
        gc.freeze()
