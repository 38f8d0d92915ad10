"""Whether this ferryman has accounts (then every request signs in, loopback too), read
from the store at most every ``RECHECK_SECONDS``: a person added with ``ferryman user
add`` while the page runs is seen within that, one added on the page at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferryman.clock import SYSTEM, Clock

RECHECK_SECONDS = 5.0


@dataclass(slots=True)
class AccountBook:
    _known: bool | None = None
    _checked: float = 0.0
    clock: Clock = SYSTEM

    async def active(self, store: Any) -> bool:
        now = self.clock.monotonic()
        if self._known is None or now - self._checked > RECHECK_SECONDS:
            self._known = bool(await store.users())
            self._checked = now
        return self._known

    def changed(self) -> None:
        """An account was added or removed here: read again at the next request."""
        self._known = None
