"""Uploads ahead of delivery through a pool: through the account the album then goes
through.

An upload is its account's own: another account cannot send a file it did not upload,
and would upload it again. So a job's big entries, uploaded while they are staged
(``telegram/early_upload``), go through one account of the pool, picked as the job's
first one begins (allowed in the chat, not waiting, Premium where the file needs it;
the fewest uploads ahead, then the lightest load): a job's files share its albums, and
an album goes through one account. The album that holds such a file goes through that
account while it is free (``holder``, in ``sinks/telegram_accounts.choose``), its
upload taken rather than made again; two jobs staged at once may use two accounts.
One account: its hub's uploads ahead, as before pools.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.telegram.early_upload import GrowingFile

if TYPE_CHECKING:
    import asyncio

    from ferryman.telegram.accounts import AccountPool, Member


class PoolEarlyUploads:
    """The ``GrowingFile``'s owner for one job's read through a pool: picks the account
    on the loop as a file begins (the job's, while it may), then hands the file to that
    account's ``EarlyUploads``."""

    def __init__(
        self,
        pool: AccountPool,
        chat: str,
        clock: Callable[[], float],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.loop = loop
        self._pool = pool
        self._chat = chat
        self._clock = clock
        self._member: Member | None = None  # the job's account for its uploads ahead

    def start(self, path: Path, size: int) -> GrowingFile | None:
        """From the writing thread: a file to tell of its growth (``begin`` picks its
        account on the loop, or leaves it to the delivery's upload)."""
        if self.loop.is_closed():
            return None
        return GrowingFile(self, path, size)

    def begin(self, file: GrowingFile, fd: int) -> None:
        member = self._pick(file)
        if member is None:
            file.dead = True
            os.close(fd)
            return
        member.hub.early_uploads().begin(file, fd)

    def begin_whole(self, file: GrowingFile, path: Path) -> None:
        member = self._pick(file)
        if member is None:
            file.dead = True
            return
        member.hub.early_uploads().begin_whole(file, path)

    def drop(self, file: GrowingFile) -> None:
        for member in self._pool.members:
            member.hub.early_uploads().drop(file)  # only its own entry of the file goes

    def _pick(self, file: GrowingFile) -> Member | None:
        if file.dead:
            return None
        now = self._clock()

        def able(m: Member) -> bool:
            return (
                m in self._pool.members  # not logged out since
                and m.allowed(self._chat)
                and m.may_post.get(self._chat) is not False
                and m.figures.waiting_until <= now
                and file.size <= m.file_bytes
            )

        if self._member is not None and able(self._member):
            return self._member
        found = [m for m in self._pool.members if able(m)]
        if not found:
            return None
        self._member = min(found, key=lambda m: (m.hub.early_uploads().running(), m.load, m.busy))
        return self._member


def holder(paths: list[Path], free: list[Member]) -> Member | None:
    """The free account that uploaded (or uploads) one of these files ahead, if any: the
    album goes through it, its upload taken rather than made again."""
    for member in free:
        early = member.hub.early_uploads()
        if any(early.holds(p) for p in paths):
            return member
    return None
