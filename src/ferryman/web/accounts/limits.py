"""A person's limits, checked when they add a job: jobs at once (queued or running),
bytes a day (the items read for their jobs in the last 24 hours), ended jobs kept. Set
by an administrator in the person's settings (``limits``); 0 or absent: no limit. Each
refusal has its code and next step (``account.limit_*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.web.accounts.who import Who
    from ferryman.web.core import Web

LIMITS = ("jobs", "bytes_day", "results_kept")
PERSONAL = ("dest", "quality", "audio", "notify")  # what a person sets for themselves
DAY = 86400.0


async def check(web: Web, who: Who) -> None:
    """Raise the first limit ``who`` is at; nothing for an administrator or no account."""
    if who.account is None or who.admin:
        return
    limits = who.settings.get("limits") or {}
    if not any(limits.get(name) for name in LIMITS):
        return
    used = await web.store.account_usage(who.account, web.store.clock() - DAY)
    jobs, day, kept = (int(limits.get(name) or 0) for name in LIMITS)
    if jobs and used["busy"] >= jobs:
        raise FerrymanError(
            "account.limit_jobs", f"{used['busy']} jobs at once: your account may have {jobs}"
        )
    if day and used["bytes"] >= day:
        raise FerrymanError(
            "account.limit_bytes", f"{used['bytes']} bytes today: your account may fetch {day}"
        )
    if kept and used["ended"] >= kept:
        raise FerrymanError(
            "account.limit_results",
            f"{used['ended']} ended jobs kept: your account may keep {kept}",
        )
