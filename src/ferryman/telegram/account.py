"""What Telegram last said about the logged-in account (Premium, bot, its limits), kept
beside its session.

Telegram's limits follow the account: 4000 MiB files and 2048-character captions with
Premium, 2000 MiB and 1024 without; a bot never has Premium. Those figures are
Telegram's to change: it tells them in its client configuration (``help.getAppConfig``:
``upload_max_fileparts_default``/``_premium`` in 512 KiB parts,
``caption_length_limit_default``/``_premium``), as its own apps read them, and they are
kept here as told (the figures above while it has not said). Whenever ferryman asks
Telegram who the session is (``telegram login``, ``telegram whoami``, the login check
as ``serve`` or a delivery connects) the answer is written here; a job's limits are
chosen when it is added, from this file, without a round trip and without Telethon
(``sinks/telegram_kind``). ``telegram.premium`` set in the settings overrides the flag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

SUFFIX = ".account.json"
PART_BYTES = 512 * 1024  # the biggest part: a file's limit is its parts' count times this


@dataclass(frozen=True, slots=True)
class Limits:
    """Telegram's limits for accounts without Premium and with it, as its client
    configuration says them (these defaults while it has not)."""

    upload_max_fileparts_default: int = 4000
    upload_max_fileparts_premium: int = 8000
    caption_length_limit_default: int = 1024
    caption_length_limit_premium: int = 2048

    def told(self, config: Mapping[str, Any]) -> Limits:
        """These limits as the client configuration's keys change them: a key missing,
        or not a whole number from 1 to 2**31, keeps its value here (an old server, a
        changed format)."""
        found: dict[str, int] = {}
        for f in fields(self):
            value = config.get(f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if 1 <= value <= 1 << 31 and value == int(value):  # NaN, inf, 2.5: no
                found[f.name] = int(value)
        return replace(self, **found)

    def file_bytes(self, premium: bool) -> int:
        parts = self.upload_max_fileparts_premium if premium else self.upload_max_fileparts_default
        return parts * PART_BYTES

    def caption_chars(self, premium: bool) -> int:
        if premium:
            return self.caption_length_limit_premium
        return self.caption_length_limit_default


@dataclass(frozen=True, slots=True)
class Account:
    """The account's own flags and Telegram's limits, as Telegram last told them."""

    premium: bool
    bot: bool
    limits: Limits = field(default_factory=Limits)


def account_file(session: Path) -> Path:
    """``<name>.account.json`` beside ``<name>.session``."""
    return session.with_suffix(SUFFIX)


def remember(session: Path, account: Account) -> None:
    """Write the account's flags beside its session (owner-only, as the session)."""
    data = json.dumps(
        {"premium": account.premium, "bot": account.bot, "limits": asdict(account.limits)}
    ).encode()
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
    told = data.get("limits")
    return Account(
        premium=data.get("premium") is True,
        bot=data.get("bot") is True,
        limits=Limits().told(told if isinstance(told, dict) else {}),
    )


def forget(session: Path) -> None:
    account_file(session).unlink(missing_ok=True)


def has_premium(session: Path, setting: bool | None) -> bool:
    """Whether Premium's limits apply: ``telegram.premium`` when set, else the account's
    own flag (a bot's is never set); False while Telegram has not been asked."""
    if setting is not None:
        return setting
    account = remembered(session)
    return account is not None and account.premium and not account.bot


def limits_of(session: Path) -> Limits:
    """Telegram's limits as last told to this session (the defaults if never)."""
    account = remembered(session)
    return account.limits if account is not None else Limits()
