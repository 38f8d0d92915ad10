"""Helpers for Telegram tests: a fake Telegram world, settings, and a logged-in session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faketg import FakeTelegram
from faketg.client import FakeDialer, save_login
from faketg.state import Account
from ferryman.config import Settings, load_settings
from ferryman.telegram.client import make_client


def tg_settings(tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "media": {"segment_seconds": 2},
            "telegram": {"api_id": 1, "api_hash": "fakehash", **extra.pop("telegram", {})},
            **extra,
        },
    )


async def log_in(settings: Settings, server: FakeTelegram, account: Account) -> None:
    """Leave a session file in the data dir that the fake knows as ``account``'s."""
    await save_login(server, make_client(settings, FakeDialer(server)), account)


def media_kind(message: Any) -> str:
    """What a person sees: photo, video, audio or document (a file)."""
    from telethon.tl import types

    media = message.media
    if media is None:
        return "text"
    if media.kind == "photo":
        return "photo"
    attrs = media.attributes
    if any(isinstance(a, types.DocumentAttributeVideo) for a in attrs):
        return "video"
    if any(isinstance(a, types.DocumentAttributeAudio) for a in attrs):
        return "audio"
    return "document"


def video_attribute(message: Any) -> Any:
    from telethon.tl import types

    return next(a for a in message.media.attributes if isinstance(a, types.DocumentAttributeVideo))


class SilentChat:
    """The chat's two calls a status message makes (``StatusBoard``'s), answering as
    Telegram would; nothing is sent anywhere."""

    async def send(self, chat_id: int, text: str, **_: object) -> int:
        return 1

    async def edit(self, chat_id: int, message_id: int, text: str, **_: object) -> None:
        return None
