"""Run a blocking conversion in a child process, so a timeout or a cancel can really stop it.

FFmpeg work in a thread cannot be interrupted; a process can be killed. The child
reports progress and its outcome over a pipe; the parent polls it from asyncio
without blocking the loop. ``spawn`` gives the child a clean interpreter (no copied
locks or event loop), so ``target`` must be a module-level function.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
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
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child_main,
        args=(target, kwargs, sender, on_event is not None),
        name=f"ferryman-{target.__name__}",
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        process.start()
    except Exception as exc:  # e.g. a target or kwargs that cannot be pickled
        receiver.close()
        raise FerrymanError(
            "media.convert_failed", f"{_describe(target, kwargs)}: cannot start worker ({exc})"
        ) from exc
    finally:
        sender.close()  # the child holds the only writer now: EOF means it is gone
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
        await _stop(process, finishing=outcome is not None)


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


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this child when the parent dies (``kill -9`` on ferryman).

    Without it an orphaned encoder runs on, and after a restart two processes would
    write the same parts. Elsewhere (no prctl) the parent's own cleanup is all there is.
    """
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None else os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _child_main(
    target: Callable[..., None], kwargs: dict[str, Any], sender: Connection, events: bool
) -> None:
    """Runs in the child: call ``target`` and send its outcome to the parent."""

    def send(fraction: float) -> None:
        sender.send(("progress", fraction))

    def event(name: str, value: Any) -> None:
        sender.send(("event", name, value))

    extra: dict[str, Any] = {"event": event} if events else {}
    _die_with_parent()
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
