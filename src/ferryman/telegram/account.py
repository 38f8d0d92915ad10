"""What Telegram last said about the logged-in account (Premium, bot), kept beside its session.

Telegram's limits follow the account: 4000 MiB files and 2048-character captions with
Premium, 2000 MiB and 1024 without; a bot never has Premium. Whenever ferryman asks
Telegram who the session is (``telegram login``, ``telegram whoami``, the login check
as ``serve`` or a delivery connects) the answer is written here; a job's limits are
chosen when it is added, from this file, without a round trip and without Telethon
(``sinks/telegram_kind``). ``telegram.premium`` set in the settings overrides it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".account.json"


@dataclass(frozen=True, slots=True)
class Account:
    """The account's own flags, as Telegram last told them."""

    premium: bool
    bot: bool


def account_file(session: Path) -> Path:
    """``<name>.account.json`` beside ``<name>.session``."""
    return session.with_suffix(SUFFIX)


def remember(session: Path, account: Account) -> None:
    """Write the account's flags beside its session (owner-only, as the session)."""
    data = json.dumps({"premium": account.premium, "bot": account.bot}).encode()
    path = account_file(session)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(part, path)  # a reader sees the old flags or the new, never half


def remembered(session: Path) -> Account | None:
    """The flags last written for this session; None if never (or unreadable)."""
    try:
        data = json.loads(account_file(session).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return Account(premium=data.get("premium") is True, bot=data.get("bot") is True)


def forget(session: Path) -> None:
    account_file(session).unlink(missing_ok=True)


def has_premium(session: Path, setting: bool | None) -> bool:
    """Whether Premium's limits apply: ``telegram.premium`` when set, else the account's
    own flag (a bot's is never set); False while Telegram has not been asked."""
    if setting is not None:
        return setting
    account = remembered(session)
    return account is not None and account.premium and not account.bot
