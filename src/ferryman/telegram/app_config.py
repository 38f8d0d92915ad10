"""Telegram's limits as its client configuration says them (``help.getAppConfig``).

Why ask: the limits are Telegram's to change (files went from 1.5 GB to 2 GB, Premium
brought 4 GB), and its own apps read them from this configuration rather than knowing
them. The answer is a tree of JSON values in TL form; only the few numbers of
``telegram/account.Limits`` are kept. Asking is a courtesy, never a condition: an error,
an answer of another shape, a server that does not know the request or one that leaves
it unanswered for ``ASK_SECONDS`` (a login never hangs on it) leave the limits last known
(the defaults at first).
"""

from __future__ import annotations

import logging
from typing import Any

from telethon import TelegramClient
from telethon.tl import functions, types

from ferryman.telegram.account import Limits
from ferryman.timeouts import within

log = logging.getLogger(__name__)

ASK_SECONDS = 10.0  # Telegram answers in well under a second


def json_value(value: Any) -> Any:
    """A TL ``JSONValue`` as Python's JSON values (anything else: None)."""
    if isinstance(value, types.JsonObject):
        return {item.key: json_value(item.value) for item in value.value}
    if isinstance(value, types.JsonArray):
        return [json_value(item) for item in value.value]
    if isinstance(value, types.JsonNumber | types.JsonString | types.JsonBool):
        return value.value
    return None


async def ask_limits(client: TelegramClient, known: Limits) -> Limits:
    """The limits Telegram tells this client now; ``known`` when it tells none."""
    try:
        answer = await within(client(functions.help.GetAppConfigRequest(hash=0)), ASK_SECONDS)
    except Exception as exc:  # any failure keeps what was known (docstring)
        log.debug("Telegram's client configuration not read (%s): limits kept", exc)
        return known
    config = json_value(getattr(answer, "config", None))
    return known.told(config) if isinstance(config, dict) else known
