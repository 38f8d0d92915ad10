"""The sink interface and destination parsing.

A sink receives a whole album and must be idempotent: delivering an album it already
has (a crash struck after it wrote, before the store recorded it) returns the same
reference and writes nothing twice.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Album, Item, Job


@dataclass(frozen=True, slots=True)
class Delivery:
    """One album to deliver, with everything a sink needs to render it."""

    job: Job
    album: Album
    caption: str

    @property
    def key(self) -> str:
        """Stable across retries and restarts: the sink's idempotency key."""
        return f"job-{self.job.id}/album-{self.album.seq}"


class Sink(Protocol):
    async def deliver(self, delivery: Delivery) -> str:
        """Deliver the album (exactly once) and return where it went."""
        ...


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    target: str


def parse_destination(dest: str) -> Destination:
    """``library:`` (the default library), ``library:/some/path``, or a Telegram chat:
    ``telegram:me``, ``telegram:@name``, ``telegram:-100…`` and ``telegram:-100…/topic/ID``."""
    scheme, sep, target = dest.partition(":")
    if sep and scheme == "library":
        if target:
            target = os.path.abspath(target)  # no filesystem access: safe on the event loop
        return Destination(scheme, target)
    if sep and scheme == "telegram":
        telegram_target(target)  # refuse a malformed chat now, not at delivery
        return Destination(scheme, target)
    raise FerrymanError(
        "sink.unknown",
        f"destination '{dest}' is not known; use library:, library:/path, telegram:me,"
        " telegram:@name or telegram:-100…[/topic/ID]",
    )


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
            f"telegram destination '{target}' is not a chat; use telegram:me, telegram:@name,"
            " telegram:-100… or telegram:-100…/topic/ID",
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


def delivered_name(item: Item, part: int | None) -> str:
    """The source's name; a converted file gets its new suffix, a split part its number."""
    base = safe_name(Path(item.source_path).name, f"item-{item.seq}")
    if item.work_path and Path(item.work_path).suffix.lower() != Path(base).suffix.lower():
        base = f"{Path(base).stem}{Path(item.work_path).suffix}"  # converted: new container
    if part is not None:
        base = f"{Path(base).stem}.part{part}{Path(base).suffix}"
    return base
