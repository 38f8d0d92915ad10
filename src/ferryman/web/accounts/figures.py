"""Per-person figures on ``/metrics``: jobs queued or running, and running, by account.
The label is the account's name, a set an administrator makes and bounds: past
``LABELLED`` accounts the rest are summed under ``account="other"``, so a server with many
people never grows a series per person without end. Jobs of no account: ``"-"``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferryman.web.core import Web

LABELLED = 50


async def account_lines(web: Web) -> list[str]:
    users = await web.store.users()
    if not users:
        return []
    counts = await web.store.account_counts()
    names: dict[int | None, str] = {u.id: u.name for u in users[:LABELLED]}
    shown: dict[str, dict[str, int]] = {}
    for account, figures in counts.items():
        label = "-" if account is None else names.get(account, "other")
        mine = shown.setdefault(label, {"busy": 0, "running": 0})
        for key in mine:
            mine[key] += figures[key]
    for name in names.values():
        shown.setdefault(name, {"busy": 0, "running": 0})
    lines = [
        "# HELP ferryman_accounts Accounts that may sign in.",
        "# TYPE ferryman_accounts gauge",
        f"ferryman_accounts {len(users)}",
        "# HELP ferryman_account_jobs Jobs queued or running (busy) and running, per account.",
        "# TYPE ferryman_account_jobs gauge",
    ]
    for label, figures in sorted(shown.items()):
        for key, n in figures.items():
            lines.append(f'ferryman_account_jobs{{account="{label}",state="{key}"}} {n}')
    return lines
