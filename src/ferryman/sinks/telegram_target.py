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
    """A chat: ``me``, ``@username`` or a numeric id; ``topic`` for a forum's topic;
    ``by_folder`` (``/topics``): each top folder of a job's input in a topic of its own
    (``sinks/telegram_topics``)."""

    chat: str | int
    topic: int | None = None
    by_folder: bool = False


_TELEGRAM = re.compile(
    r"^(me|@?[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})(?:/topic/([0-9]{1,12})|(/topics))?$"
)
FORMS = (
    "telegram:me, telegram:@name, telegram:-100…, telegram:-100…/topic/ID or telegram:-100…/topics"
)


def telegram_target(target: str) -> TelegramTarget:
    match = _TELEGRAM.fullmatch(target.strip())
    if match is None:
        raise FerrymanError(
            "sink.unknown",
            f"telegram destination '{target}' is not a chat: {_why_not(target.strip())};"
            f" use {FORMS}",
        )
    chat, topic, by_folder = match.group(1), match.group(2), match.group(3) is not None
    value: str | int
    if chat == "me":
        value = "me"
    elif chat.lstrip("-").isdigit():
        value = int(chat)
    else:
        value = "@" + chat.lstrip("@")
    if by_folder and chat == "me":
        raise FerrymanError(
            "sink.unknown",
            "telegram:me/topics: Saved Messages has no forum topics;"
            " use a forum group's id, telegram:-100…/topics",
        )
    return TelegramTarget(value, int(topic) if topic else None, by_folder)


def _why_not(target: str) -> str:
    """What is wrong with a destination that names no chat, in a person's words."""
    chat, _, topic = target.partition("/")
    if topic and not re.fullmatch(r"topic/[0-9]{1,12}|topics", topic):
        return (
            "a forum topic is written /topic/ID, with the topic's number,"
            " or /topics for a topic per folder"
        )
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
