"""A ``telegram:`` destination's chat: ``me``, ``@name``, ``-100…``, a forum's topic,
parsed (and told what is wrong with it, in a person's words). Apart from the kind, which
opens the sink, and the sink, which sends to it: both read it, neither imports the other."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferryman.errors import FerrymanError

ALBUM_MAX = 10  # messages.sendMultiMedia takes at most ten


@dataclass(frozen=True, slots=True)
class TelegramTarget:
    """A chat: ``me``, ``@username`` or a numeric id; ``topic`` for a forum's topic."""

    chat: str | int
    topic: int | None = None


_TELEGRAM = re.compile(
    r"^(me|@?[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})(?:/topic/([0-9]{1,12}))?$"
)


def telegram_target(target: str) -> TelegramTarget:
    match = _TELEGRAM.fullmatch(target.strip())
    if match is None:
        raise FerrymanError(
            "sink.unknown",
            f"telegram destination '{target}' is not a chat: {_why_not(target.strip())};"
            " use telegram:me, telegram:@name, telegram:-100… or telegram:-100…/topic/ID",
        )
    chat, topic = match.group(1), match.group(2)
    value: str | int
    if chat == "me":
        value = "me"
    elif chat.lstrip("-").isdigit():
        value = int(chat)
    else:
        value = "@" + chat.lstrip("@")
    return TelegramTarget(value, int(topic) if topic else None)


def _why_not(target: str) -> str:
    """What is wrong with a destination that names no chat, in a person's words."""
    chat, _, topic = target.partition("/")
    if topic and not re.fullmatch(r"topic/[0-9]{1,12}", topic):
        return "a forum topic is written /topic/ID, with the topic's number"
    name = chat.removeprefix("@")
    if not name:
        return "it names no chat"
    if re.fullmatch(r"-?[0-9]+", name):
        return "a chat id has at most 20 digits"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return "a username has only letters, digits and underscores"
    if not name[0].isalpha():
        return "a username starts with a letter"
    if len(name) < 4:
        return (
            f"a username has 5 to 32 characters (4 for a few bought ones), '{name}' has {len(name)}"
        )
    return f"a username has at most 32 characters, '{name}' has {len(name)}"
