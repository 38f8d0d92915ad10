"""What the sources and sinks of one engine share (one Telegram connection: the sink, the
chat and a message link go through one login; one S3 client), each resource made by
whoever asks first and closed with the engine.

Here, below the adapters, so that a source, a sink and an adapter package
(``telegram.hub``) can name it without importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from ferryman.clock import Clock
    from ferryman.config import Settings


class Closeable(Protocol):
    """Anything with an ``async close()``: a shared resource, the store, a client."""

    async def close(self) -> None: ...


_C = TypeVar("_C", bound=Closeable)


class Shared:
    """The engine's shared resources, by key.

    ``settings`` are the engine's base settings; ``dialer`` is the network seam a test
    passes to ``Engine(..., dialer=...)`` (None: the real network); ``clock``: the
    engine's (what a resource that keeps answers for a while times them by, so a test
    moves it; None: the system's).
    """

    def __init__(self, settings: Settings, dialer: Any = None, clock: Clock | None = None) -> None:
        from ferryman.clock import SYSTEM  # lazy: the light commands' start-up

        self.settings = settings
        self.dialer = dialer
        self.clock: Clock = clock if clock is not None else SYSTEM
        self._made: dict[str, Closeable] = {}

    def get(self, key: str, make: Callable[[], _C]) -> _C:
        """The resource under ``key``, made by ``make`` the first time it is asked for."""
        if key not in self._made:
            self._made[key] = make()
        return cast(_C, self._made[key])

    def pop(self, key: str) -> Closeable | None:
        """The resource under ``key``, no longer shared (its taker closes it): a Telegram
        account that logged out leaves, and a login of the same name makes a new one."""
        return self._made.pop(key, None)

    async def close(self) -> None:
        made, self._made = self._made, {}
        for resource in made.values():
            await resource.close()
