"""One warm media box for every engine a test process builds (issue 57: a fast suite).

Why: each ``Engine`` made its own ``MediaBox``, so each engine test started one to three
fresh worker interpreters (~0.2 CPU-s each, Pillow and the probe preloaded) and ended
them at its stop: ~450 starts in a run of the suite. A shared box keeps the product's
guarantees, since they are per call, not per box: each call takes a worker of its own
(under the box's lock), is confined by its own limits, and a worker that a limit, a
crash or a stop ended is never given back (the next call gets a fresh one). What a test
sees of it is what a long-running engine sees of its box: warm workers that served
earlier calls. The box's own tests (tests/media/test_media_box.py) make their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferryman.media.box.pool import DecodeLimits, MediaBox


class SharedBox:
    """A ``Decoder`` for the engines of a test process: ``MediaBox``'s calls, and a
    ``close`` that does nothing (an engine's stop closes its box; the session's end
    closes this one, ``end``)."""

    def __init__(self) -> None:
        self.box = MediaBox()

    def __call__(self) -> SharedBox:
        """Itself: it stands for the ``MediaBox`` class where the engine makes its box."""
        return self

    def run(
        self,
        target: str,
        *args: Any,
        limits: DecodeLimits,
        stop: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        return self.box.run(target, *args, limits=limits, stop=stop, **kwargs)

    async def run_async(self, target: str, *args: Any, limits: DecodeLimits, **kwargs: Any) -> Any:
        return await self.box.run_async(target, *args, limits=limits, **kwargs)

    def close(self) -> None:
        return

    def end(self) -> None:
        """The session is over: its idle workers ended (a busy one ends with its call)."""
        self.box.close()
