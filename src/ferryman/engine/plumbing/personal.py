"""Whose a job's or a watch's runs are, and the settings those runs use: a person's own
rclone.conf (``net/rclone_conf``) for ``rclone:`` inputs, destinations and watches.

An administrator's work, and work of no account (the CLI, the machine's chat users),
uses the server's; a person's uses their own, or fails ``rclone.no_conf``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ferryman.net.rclone_conf import for_person
from ferryman.net.rclone_path import refuse_for_person

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.accounts.sql import User
    from ferryman.store.watches.sql import Watch


class Users(Protocol):
    async def user(self, user_id: int) -> User | None: ...


class WatchUsers(Users, Protocol):
    async def watch_accounts(self) -> dict[int, int | None]: ...


async def person_of(users: Users, account: int | None) -> int | None:
    """``account`` if it is a person's (not an administrator's); None else."""
    if account is None:
        return None
    user = await users.user(account)
    return None if user is None or user.admin else account


async def personal_settings(
    users: Users, settings: Settings, account: int | None, texts: Iterable[str | None] = ()
) -> Settings:
    """``settings`` with the rclone.conf of ``account``'s runs (a stat on a thread); a
    person's ``texts`` (what the run reaches: a destination, a watched folder) refused
    when one is a connection string (``rclone.conn_refused``), however it was recorded."""
    person = await person_of(users, account)
    if person is not None:
        refuse_for_person(texts)
    return await asyncio.to_thread(for_person, settings, person)


async def for_watch(users: WatchUsers, settings: Settings, watch: Watch) -> Settings:
    """A watch of an rclone remote's folder, or sending to one: its person's settings
    (its look lists their remotes; its jobs are theirs). Any other: ``settings``."""
    if not any(text.startswith("rclone:") for text in (watch.source, watch.dest)):
        return settings
    account = (await users.watch_accounts()).get(watch.id)
    then = watch.after_delivery or ""
    rclone_move = then.startswith("move:") and watch.source.startswith("rclone:")
    moved = f"rclone:{then.removeprefix('move:')}" if rclone_move else None
    return await personal_settings(users, settings, account, (watch.source, watch.dest, moved))


__all__ = ["for_watch", "person_of", "personal_settings"]
