"""``/settings thumbnail``, as a photo's caption or sent as a reply to a photo: that
photo (not made a job), kept in the data
folder per person (``thumbnails/USER.jpg``), becomes the thumbnail their documents show
(the ``thumbnail`` setting names it; the Telegram sink fits it to Telegram's limits)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telethon.tl import types

from ferryman.errors import FerrymanError
from ferryman.fsutil import make_durable
from ferryman.telegram.errors import from_telethon

MAX_BYTES = 10_000_000  # a photo Telegram shows is at most this
ASK = "send /settings thumbnail as a reply to a photo you sent me, or as a photo's caption"


async def take(message: Any, data_dir: Path, user_id: int) -> Path:
    """The photo ``message`` carries as the command's caption, or else replies to, saved
    as ``user_id``'s thumbnail; its path. ``config.invalid`` when there is no photo of
    theirs."""
    if message is None:
        raise FerrymanError("config.invalid", ASK)
    own = isinstance(getattr(message, "media", None), types.MessageMediaPhoto)
    if not own and not getattr(message, "reply_to_msg_id", None):
        raise FerrymanError("config.invalid", ASK)
    try:
        # Else by its id in this chat (what a bot may ask; the same for a user account).
        replied = (
            message
            if own
            else await message.client.get_messages(message.chat_id, ids=message.reply_to_msg_id)
        )
        photo = getattr(replied, "media", None)
        if not isinstance(photo, types.MessageMediaPhoto) or replied.sender_id != user_id:
            raise FerrymanError("config.invalid", f"that is not a photo of yours; {ASK}")
        data = await replied.download_media(file=bytes)
    except FerrymanError:
        raise
    except Exception as exc:
        raise from_telethon(exc) from exc
    if not isinstance(data, bytes) or not data or len(data) > MAX_BYTES:
        raise FerrymanError("telegram.download_failed", "the photo did not download whole")
    path = data_dir / "thumbnails" / f"{user_id}.jpg"
    await asyncio.to_thread(_save, path, data)
    return path


def _save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.write_bytes(data)
    make_durable([part])
    part.replace(path)
