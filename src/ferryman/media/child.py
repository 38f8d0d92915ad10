"""Run a blocking conversion in a child process, so a timeout or a cancel can really stop it.

FFmpeg work in a thread cannot be interrupted; a process can be killed. The child
reports progress and its outcome over a pipe; the parent polls it from asyncio
without blocking the loop. The child never copies the engine's own process (its
locks, threads, event loop), so ``target`` must be a module-level function:
- where the platform has it, children fork from multiprocessing's *forkserver*, a
  template process that has loaded the modules children need (``prepare``, ``warm``):
  a child is ready in milliseconds, where a fresh interpreter that imports yt-dlp or
  PyAV takes ~0.3 s (a link's whole download is often ten times that);
- elsewhere, each child is a fresh interpreter (``spawn``).
Either way the child runs with the environment, working folder and ``sys.path`` the
parent has when it starts the child, not those the template started with, and dies
with the parent (``_die_with_parent``). With ``limits`` (the convert stage's encoders,
which decode untrusted media), the child confines itself before the target runs:
address space (``RLIMIT_AS``, over its size at the start, two malloc arenas so threads
do not reserve 64 MiB each) and CPU seconds (``RLIMIT_CPU``); past them the target
fails (``media.decode_memory``) or the kernel ends the child (``media.decode_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, cast

from ferryman.errors import FerrymanError, ServerWait

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.02  # seconds between looks at the pipe
TERM_GRACE = 0.5  # seconds between SIGTERM and SIGKILL

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
    limits: ChildLimits | None = None,
) -> None:
    """Run ``target(**kwargs, progress=...)`` in a child process and wait for it.

    With ``on_event``, the target also gets ``event(name, value)``; every event reaches
    ``on_event`` in order, before the outcome (progress reports may be thinned out).

    Raises ``media.convert_timeout`` after ``timeout`` seconds, the child's own
    FerrymanError (same code; a ``ServerWait`` keeps its seconds) if it raised one, and
    ``media.convert_failed`` if it raised anything else or died. On timeout and on
    cancellation the child is killed.
    """
    receiver, sender = multiprocessing.Pipe(duplex=False)
    lifeline, held = multiprocessing.Pipe(duplex=False)  # EOF in the child: parent gone
    args = (target, kwargs, sender, on_event is not None, lifeline, dict(os.environ), limits)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:  # the start takes the child's ends of both pipes (see _start)
        async with asyncio.timeout_at(deadline):
            process = await _start(args, f"ferryman-{target.__name__}", (sender, lifeline))
    except TimeoutError as exc:  # a template that never answers, say
        receiver.close()
        held.close()
        raise FerrymanError(
            "media.convert_timeout", f"{_describe(target, kwargs)}: no worker in {timeout:g} s"
        ) from exc
    except Exception as exc:  # e.g. a target or kwargs that cannot be pickled
        receiver.close()
        held.close()
        raise FerrymanError(
            "media.convert_failed", f"{_describe(target, kwargs)}: cannot start worker ({exc})"
        ) from exc
    except BaseException:  # cancelled: a child started after all dies of its lifeline
        receiver.close()
        held.close()
        raise
    outcome: _Message | None = None
    try:
        outcome = await _wait(receiver, on_progress, on_event, deadline, loop)
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
            held.close()  # the last word: a child still there (an unknown state) dies


def _contexts() -> list[ForkServerContext | SpawnContext]:
    """Where children come from, in order of preference (module docstring): the
    forkserver where the platform has one, then spawn."""
    spawn = multiprocessing.get_context("spawn")
    if "forkserver" in multiprocessing.get_all_start_methods():
        return [multiprocessing.get_context("forkserver"), spawn]
    return [spawn]


def prepare(modules: Sequence[str]) -> None:
    """Name the modules the template children fork from loads (those the targets live
    in, and what they import). The template is the standard library's, one per process,
    and starts with the first child, or with ``warm``; modules named after it started
    count from the next template only."""
    preferred = _contexts()[0]
    if isinstance(preferred, ForkServerContext):
        preferred.set_forkserver_preload(list(modules))


def warm(modules: Sequence[str]) -> None:
    """``prepare``, and start the template now, so that it loads while the caller does
    its own start-up. Where no template can start (a ``TMPDIR`` too long for its
    socket's name, say), children are spawned fresh, and this says so in the log."""
    prepare(modules)
    if not isinstance(_contexts()[0], ForkServerContext):
        return

    try:
        forkserver.ensure_running()
    except _NO_TEMPLATE as exc:
        log.info("no template for child processes (%s): each starts afresh", exc)


# What a template that cannot start or answer raises (its socket, a crash while loading).
_NO_TEMPLATE = (OSError, EOFError)


async def _start(
    args: tuple[Any, ...], name: str, childs_ends: tuple[Connection, ...]
) -> BaseProcess:
    """A started child running ``_child_main(*args)``, from the template where it can
    be, else spawned.

    ``process.start()`` runs in a thread of its own: a template still loading its
    modules answers only once it has, and the loop must not wait for it (nor the start
    for a busy shared pool). A cancel returns at once; a child that the thread starts
    after all is reaped there, and dies of its lifeline, which the caller closes.
    ``childs_ends`` (the pipe ends the child gets) are closed by that thread once the
    start is over: the start sends them by number, which must not be reused before."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future[BaseProcess] = loop.create_future()
    lock = threading.Lock()
    abandoned = False

    def settle(process: BaseProcess | None, failure: BaseException | None) -> None:
        if not started.done():
            if failure is None:
                started.set_result(cast(BaseProcess, process))
            else:
                started.set_exception(failure)
        elif failure is None and process is not None:  # its waiter was cancelled meanwhile
            _reap_apart(process)

    def start() -> None:
        process: BaseProcess | None = None
        failure: BaseException | None = None
        contexts = _contexts()
        for n, ctx in enumerate(contexts):
            process = ctx.Process(target=_child_main, args=args, name=name)
            try:
                process.start()
            except _NO_TEMPLATE as exc:
                if n + 1 < len(contexts):
                    log.info("no template for child processes (%s): spawning one", exc)
                    continue
                failure = exc
            except BaseException as exc:  # handed to the waiting task
                failure = exc
            break
        for end in childs_ends:  # the child has them now (or never will): EOF is its end
            end.close()
        with lock:
            gone = abandoned
        if not gone:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, process, failure)
        elif failure is None and process is not None:
            _reap(process)

    threading.Thread(target=start, name="child-start", daemon=True).start()
    try:
        return await started
    except asyncio.CancelledError:
        with lock:
            abandoned = True
        if started.done() and not started.cancelled() and started.exception() is None:
            _reap_apart(started.result())  # settled just before the cancel came
        raise


def _reap(process: BaseProcess) -> None:
    """A child nobody waits for: killed (its lifeline is closed too) and reaped."""
    process.kill()
    process.join()
    process.close()


def _reap_apart(process: BaseProcess) -> None:
    """``_reap`` on a thread of its own: the event loop never waits for a join."""
    threading.Thread(target=_reap, args=(process,), name="child-reap", daemon=True).start()


async def _wait(
    receiver: Connection,
    on_progress: Callable[[float], None] | None,
    on_event: EventHandler | None,
    deadline: float,
    loop: asyncio.AbstractEventLoop,
) -> _Message | None:
    """The child's final message (("died",) if it left none), or None on timeout.

    The child's end is the end of the pipe, whose only writer it holds: a forked
    child's exit status comes through its template, and says "gone" for a running
    child when the template is gone."""
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
    if process.exitcode == -signal.SIGXCPU:
        raise FerrymanError(
            "media.decode_timeout", f"{_describe(target, kwargs)}: used its CPU seconds"
        )
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


@dataclass(frozen=True, slots=True)
class ChildLimits:
    """A child's confinement: address space it may add, CPU seconds it may use."""

    memory: int
    cpu_seconds: float


def _confine(limits: ChildLimits) -> None:
    """Soft limits on this child (under the hard ones), and two malloc arenas."""
    import ctypes  # lazy: only a confined child needs it
    import math
    import resource

    with contextlib.suppress(OSError, AttributeError):  # glibc's mallopt(M_ARENA_MAX, 2)
        ctypes.CDLL(None).mallopt(-8, 2)
    used = resource.getrusage(resource.RUSAGE_SELF)
    size = 0
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        size = next((int(x.split()[1]) * 1024 for x in status if x.startswith("VmSize:")), 0)
    wanted = (
        (resource.RLIMIT_CPU, math.ceil(used.ru_utime + used.ru_stime + limits.cpu_seconds)),
        (resource.RLIMIT_AS, size + limits.memory),
    )
    for which, value in wanted:
        hard = resource.getrlimit(which)[1]
        resource.setrlimit(
            which, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard)
        )


def _die_with_parent(lifeline: Connection) -> None:
    """SIGKILL this child when the parent dies (``kill -9`` on ferryman).

    Without it an orphaned encoder runs on, and after a restart two processes would
    write the same parts. The lifeline's other end is held by the parent alone, so it
    closes when the parent ends, whoever made this process (a forked child's maker is
    the template, which outlives the parent while a child runs). On Linux the kernel
    itself sends SIGKILL then (the pipe's close signal, made SIGKILL: no thread, no
    GIL, however busy the target); elsewhere a thread waits for the end of the pipe.
    """
    fd = lifeline.fileno()
    try:
        import fcntl  # not on every platform

        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGKILL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    except (ImportError, AttributeError, OSError):
        watcher = threading.Thread(target=_watch, args=(lifeline,), name="lifeline", daemon=True)
        watcher.start()
        return
    if lifeline.poll(0):  # closed before the signal was asked for: the parent is gone
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
    environ: dict[str, str],
    limits: ChildLimits | None = None,
) -> None:
    """Runs in the child: call ``target`` and send its outcome to the parent.

    ``environ``: the parent's environment as it started this child. A spawned child
    inherits it; a forked one has the template's, from when the template started.
    (Its working folder and ``sys.path`` multiprocessing sets either way.)"""

    def send(fraction: float) -> None:
        sender.send(("progress", fraction))

    def event(name: str, value: Any) -> None:
        sender.send(("event", name, value))

    extra: dict[str, Any] = {"event": event} if events else {}
    for end in (sender, lifeline):  # a grandchild kept from them: EOF is this one's end
        os.set_inheritable(end.fileno(), False)
    _die_with_parent(lifeline)
    os.environ.clear()
    os.environ.update(environ)
    try:
        if limits is not None:
            _confine(limits)
        target(**kwargs, **extra, progress=send)
    except MemoryError:
        limit = f"{limits.memory >> 20} MiB" if limits else "the memory"
        failed = f"{_describe(target, kwargs)}: needed more than {limit}"
        sender.send(("error", "media.decode_memory", failed, None))
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
