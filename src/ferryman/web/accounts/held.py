"""The credentials open event streams were opened with, checked again while they stay
open: every ``CHECK_SECONDS`` of the page's clock, and at once when this server ends
one (a sign-out, a password set anew, a token revoked, a person removed). A stream
whose credential ended, or now names someone else, stops before its next frame.

Before, a stream checked its credential once, when it opened: a revoked token's, a
signed-out session's and a removed person's streams went on receiving new jobs' views
with working download links. Streams opened with the same credential (a person's tabs)
share one check a round: a thousand tabs cost one store read."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request, WebSocket

from ferryman.clock import Clock
from ferryman.web import guard

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0  # an ended credential's stream closes within this (plus a check)


class Person(Protocol):
    """Who a stream is for (``accounts.who.Who``): an account, or none; a role."""

    @property
    def account(self) -> int | None: ...
    @property
    def admin(self) -> bool: ...


Asker = Request | WebSocket
Ask = Callable[[Asker], Awaitable[Person | None]]  # who it is now; None: refused


@dataclass(eq=False, slots=True)
class Holder:
    """One open stream: who it was opened for, and whether that has ended."""

    who: Person
    ended: bool = False


@dataclass(slots=True)
class _Credential:
    asker: Asker  # its headers and cookies: identified again as they were
    holders: set[Holder] = field(default_factory=set)


def _key(asker: Asker) -> tuple[str, str]:
    return asker.headers.get("authorization", ""), asker.cookies.get(guard.COOKIE, "")


class Held:
    """The open streams' credentials (``Web.held``); ``check`` is run by the page's
    task every ``every`` seconds and by the routes that end a credential, each asking
    ``accounts.identify.recheck``."""

    def __init__(self, every: float = CHECK_SECONDS) -> None:
        self.every = every
        self._open: dict[tuple[str, str], _Credential] = {}

    @contextlib.contextmanager
    def hold(self, asker: Asker, who: Person) -> Iterator[Holder]:
        """``asker``'s stream is open meanwhile, for ``who``."""
        key = _key(asker)
        credential = self._open.setdefault(key, _Credential(asker))
        holder = Holder(who)
        credential.holders.add(holder)
        try:
            yield holder
        finally:
            credential.holders.discard(holder)
            if not credential.holders and self._open.get(key) is credential:
                del self._open[key]

    @property
    def open(self) -> int:
        return sum(len(c.holders) for c in self._open.values())

    async def check(self, ask: Ask, wake: Callable[[], None]) -> int:
        """Identify each open credential again (``ask``); the streams of one that
        ended (or now names another person, or another role) are told, and woken
        (``wake``). How many."""
        ended = 0
        for key, credential in list(self._open.items()):
            now = await ask(credential.asker)
            for holder in list(credential.holders):
                was = holder.who
                if now is None or (now.account, now.admin) != (was.account, was.admin):
                    holder.ended = True
                    ended += 1
            if any(h.ended for h in credential.holders) and self._open.get(key) is credential:
                del self._open[key]  # its streams are leaving: none is checked again
        if ended:
            wake()
        return ended

    async def run(self, round: Callable[[], Awaitable[int]], clock: Clock) -> None:
        """A ``round`` of checks every ``every`` seconds of ``clock`` (the page's task)."""
        while True:
            await clock.sleep(self.every)
            if not self._open:
                continue
            try:
                await round()
            except Exception:  # the store out of reach a moment: the next round asks again
                log.exception("checking the open streams' credentials failed")
