"""The two drawings of an offer (``choices``): inline buttons for a bot, numbered
options for a user account (Telegram gives user accounts no buttons), answered by a
reply. ``Numbered`` remembers which message offered what, for the reply."""

from __future__ import annotations

import re
from typing import Any

from telethon import Button, TelegramClient
from telethon.tl import types

from ferryman.frontdoors.telegram.choices import Offer, Option

REMEMBERED = 200  # offers kept per session for numbered replies (newest win)
_NUMBER = re.compile(r"\s*#?(\d{1,2})\s*")


def markup(offer: Offer | None) -> Any:
    """The inline keyboard of ``offer`` (None: no buttons)."""
    if offer is None or not offer.rows:
        return None
    rows = [[Button.inline(o.label, o.action.encode()) for o in row] for row in offer.rows]
    return TelegramClient.build_reply_markup(rows)  # the TL layer's own button types


def force_reply() -> Any:
    """A bot's prompt that opens the person's reply to it (a password, say)."""
    return types.ReplyKeyboardForceReply(selective=True, placeholder="the password")


def numbered(offer: Offer | None) -> str:
    """``offer`` as a line to add under a message's text, for a reply with a number."""
    if offer is None or not offer.options:
        return ""
    choices = " · ".join(f"{i} {o.label}" for i, o in enumerate(offer.options, 1))
    return f"reply with a number: {choices}"


class Numbered:
    """Which message offered what, so a reply ``2`` means that message's second
    option; a number sent without replying means the newest offer in that chat."""

    def __init__(self) -> None:
        self._offers: dict[tuple[int, int], Offer] = {}

    def offered(self, chat_id: int, message_id: int, offer: Offer | None) -> None:
        key = (chat_id, message_id)
        self._offers.pop(key, None)
        if offer is not None and offer.options:
            self._offers[key] = offer  # newest last
            while len(self._offers) > REMEMBERED:
                self._offers.pop(next(iter(self._offers)))

    def answer(self, chat_id: int, text: str, reply_to: int | None) -> tuple[int, Option] | None:
        """The message answered and the option a reply picks (None: not a number, or
        no such offer)."""
        found = _NUMBER.fullmatch(text or "")
        if found is None:
            return None
        mine = [(m, o) for (c, m), o in self._offers.items() if c == chat_id]
        if reply_to is not None:
            mine = [(m, o) for m, o in mine if m == reply_to]
        if not mine:
            return None
        message_id, offer = mine[-1]
        number = int(found.group(1))
        options = offer.options
        return (message_id, options[number - 1]) if 1 <= number <= len(options) else None
