"""What a caption (or a message's text) asks for: where the job goes, and ``force``.

``to: @channel``, ``to: telegram:-100…``, ``to: me`` and ``to: library:[/path]`` pick
the destination; the word ``force`` takes a file that was received before once more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferryman.sinks.base import parse_destination

_TO = re.compile(r"(?:^|\s)to:\s*(\S+)", re.IGNORECASE)
_FORCE = re.compile(r"(?:^|\s)force(?:\s|$)", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|magnet):\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Wishes:
    dest: str
    force: bool


def destination(value: str) -> str:
    """``@name``, ``-100…`` and ``me`` are Telegram chats; ``telegram:…``/``library:…`` as is."""
    if value.startswith(("telegram:", "library:")):
        return value
    chat = value.split("/", 1)[0]  # a forum topic may follow: -100…/topic/ID
    if chat.startswith("@") or chat == "me" or chat.lstrip("-").isdigit():
        return f"telegram:{value}"
    return value  # parse_destination names what is wrong with it


def read_caption(text: str, default_dest: str) -> Wishes:
    """The caption's wishes; a destination ferryman does not know raises ``sink.unknown``."""
    found = _TO.search(text or "")
    dest = destination(found.group(1)) if found else default_dest
    parse_destination(dest)
    return Wishes(dest, bool(_FORCE.search(text or "")))


def has_link(text: str) -> bool:
    return bool(_URL.search(text or ""))
