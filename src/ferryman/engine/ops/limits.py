"""A person's limits, checked wherever a job of theirs is made or made to run again: a
job added (the page, the API, the chat's files and links, another form of a link), a
retry (one, or many at once) and a watch's look. Jobs at once (queued or running),
bytes a day (the items read for their jobs in the last 24 hours), ended jobs kept; set
by an administrator in the person's settings (``limits``); 0 or absent: no limit. Each
refusal has its code and next step (``account.limit_*``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from ferryman.engine.ops.who import Who, of_user
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.store.engine_store import WatchPeople
    from ferryman.store.shared.rows import Clock  # the store's: a function of now
    from ferryman.store.watches.sql import Watch

LIMITS = ("jobs", "bytes_day", "results_kept")
DAY = 86400.0


class Usage(Protocol):
    clock: Clock

    async def account_usage(self, account: int, since: float) -> dict[str, int]: ...


async def check(store: Usage, who: Who, *, new: bool = True) -> None:
    """Raise the first limit ``who`` is at; nothing for an administrator, the machine's
    own user or no limits set. ``new``: a job is added (a retry's job is kept already:
    it is no further result to keep). Nobody's (``ops/who.NOBODY``: a stranger heard
    only for ``/link CODE``) is ``account.not_linked``: no job is made for no one."""
    if who.admin:
        return
    if who.account is None:
        raise FerrymanError(
            "account.not_linked",
            "only a linked account makes jobs here: send /link CODE (the page's Link"
            " Telegram) first",
        )
    limits = who.settings.get("limits") or {}
    if not any(limits.get(name) for name in LIMITS):
        return
    used = await store.account_usage(who.account, store.clock() - DAY)
    jobs, day, kept = (int(limits.get(name) or 0) for name in LIMITS)
    if jobs and used["busy"] >= jobs:
        raise FerrymanError(
            "account.limit_jobs", f"{used['busy']} jobs at once: your account may have {jobs}"
        )
    if day and used["bytes"] >= day:
        raise FerrymanError(
            "account.limit_bytes", f"{used['bytes']} bytes today: your account may fetch {day}"
        )
    if kept and new and used["ended"] >= kept:
        raise FerrymanError(
            "account.limit_results",
            f"{used['ended']} ended jobs kept: your account may keep {kept}",
        )


def of_watches(store: WatchPeople) -> Callable[[Watch], Awaitable[None]]:
    """The check a watch's look makes before its new entries become a job: its
    person's limits (a watch of no account, or an administrator's: none). Handed to
    the watch stage's ``Checker`` (a stage imports no operation)."""

    async def limited(watch: Watch) -> None:
        account = (await store.watch_accounts()).get(watch.id)
        user = await store.user(account) if account is not None else None
        if user is not None:
            await check(store, of_user(user))

    return limited
