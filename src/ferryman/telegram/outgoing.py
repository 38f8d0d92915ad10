"""What each file of an album becomes in Telegram: upload, InputMedia, media reference.

Telethon's ``send_file`` drops ``attributes`` and ``thumb`` for albums, so videos arrive
as 00:00 squares with black thumbnails. ferryman builds the requests itself: every video
carries an explicit ``DocumentAttributeVideo`` (duration, width, height, streaming) and
its thumbnail, audio a ``DocumentAttributeAudio``, every file its name.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telethon.extensions import BinaryReader
from telethon.tl import types

from ferryman.errors import FerrymanError
from ferryman.model import Album, Item, MediaKind, Plan, Window, window_of
from ferryman.naming import delivered_name, unique_name
from ferryman.telegram.upload import Uploader

# A song whose name says no audio type (.m4b, .mka, an M4A named .mp4): by its container.
_AUDIO_MIMES = {"mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4", "matroska,webm": "audio/x-matroska",
                "ogg": "audio/ogg", "mp3": "audio/mpeg", "flac": "audio/flac"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One file of an album, in delivery order."""

    slot: int
    item: Item
    part: int
    path: Path
    name: str
    kind: str  # photo | video | audio | document
    # A piece of a file cut by bytes: these bytes of ``path`` (the staged file), read in
    # place; None: ``path`` whole.
    window: Window | None = None

    @property
    def family(self) -> str:
        return family_of(self.kind)

    def size(self) -> int:
        """The bytes it sends (blocking: a file's stat); 0 when the file is gone (the
        send says why, not this)."""
        if self.window is not None:
            return self.window.length
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0


def family_of(kind: str) -> str:
    """Telegram's album families: photos and videos mix; documents and audio stay apart."""
    return {"photo": "visual", "video": "visual", "audio": "audio"}.get(kind, "document")


def _kind(item: Item) -> str:
    if item.plan is Plan.DOCUMENT:
        return "document"
    if item.kind is MediaKind.PHOTO:
        return "photo"
    if item.kind in (MediaKind.VIDEO, MediaKind.ANIMATION):
        return "video"
    if item.kind is MediaKind.AUDIO:
        return "audio"
    return "document"


def outgoing_files(album: Album) -> list[Outgoing]:
    """Every file of the album (a split video gives several), numbered by slot. Names
    are unique in the album as in a library folder (``naming.unique_name``): an
    ``anim.gif`` and an ``anim.webp`` both become MP4s, ``anim.mp4`` and
    ``anim (2).mp4``, not two files a person saving them cannot tell apart."""
    found: list[Outgoing] = []
    used: set[str] = set()
    for item in album.items:
        files = item.files
        if not files:
            raise FerrymanError("engine.internal", f"item {item.id} has no file to deliver")
        for part, path in enumerate(files):
            name = unique_name(delivered_name(item, part + 1 if item.parts else None), used)
            window = window_of(path, item.work_path) if item.plan is Plan.DOCUMENT else None
            where = Path(window.path if window is not None else path)
            found.append(Outgoing(len(found), item, part, where, name, _kind(item), window))
    return found


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """What Telegram shows of a video before it plays: made from its probe by the sink
    (this package reads no media itself)."""

    duration: float
    width: int
    height: int
    streaming: bool
    silent: bool


async def video_extras(
    out: Outgoing, uploader: Uploader, video: Callable[[Outgoing], VideoFacts]
) -> tuple[VideoFacts, Any]:
    """A video's facts and its uploaded thumbnail (None without one): started beside the
    video's own upload, so neither waits for the other."""
    facts = await asyncio.to_thread(video, out)
    thumb = None
    if out.item.thumb_path:
        thumb = await uploader.upload(Path(out.item.thumb_path), name="thumb.jpg")
    return facts, thumb


async def media_for(
    out: Outgoing,
    handle: Any,
    uploader: Uploader,
    *,
    as_document: bool,
    video: Callable[[Outgoing], VideoFacts],
    extras: Awaitable[tuple[VideoFacts, Any]] | None = None,
    document_thumb: Callable[[], Awaitable[Any]] | None = None,
) -> Any:
    """The InputMedia for an uploaded file; ``as_document`` sends it as a plain file;
    ``video`` says a video's facts (blocking: it may probe a split part); ``extras``:
    those facts and the thumbnail, already under way (see :func:`video_extras`);
    ``document_thumb``: uploads the thumbnail a document is to show (None: none)."""
    name_attr = types.DocumentAttributeFilename(file_name=out.name)
    mime = mimetypes.guess_type(out.name)[0] or "application/octet-stream"
    if as_document or out.kind == "document":
        thumb = await document_thumb() if document_thumb is not None else None
        return types.InputMediaUploadedDocument(
            file=handle, mime_type=mime, attributes=[name_attr], force_file=True, thumb=thumb
        )
    if out.kind == "photo":
        return types.InputMediaUploadedPhoto(file=handle)
    if out.kind == "audio":
        return await _song(out, handle, uploader, mime, name_attr)
    facts, thumb = await (extras if extras is not None else video_extras(out, uploader, video))
    return types.InputMediaUploadedDocument(
        file=handle,
        mime_type="video/mp4",
        attributes=[
            types.DocumentAttributeVideo(
                duration=facts.duration,
                w=facts.width,
                h=facts.height,
                supports_streaming=facts.streaming,
            ),
            name_attr,
        ],
        thumb=thumb,
        nosound_video=facts.silent or None,
    )


async def _song(out: Outgoing, handle: Any, uploader: Uploader, mime: str, name: Any) -> Any:
    """A song for the music player: its length, title and performer from its tags, and
    its cover (the item's thumbnail) when it has one."""
    info = out.item.media
    container = info.container if info and info.container else ""
    cover = None
    if out.item.thumb_path:
        cover = await uploader.upload(Path(out.item.thumb_path), name="cover.jpg")
    attribute = types.DocumentAttributeAudio(
        duration=round(info.duration) if info and info.duration else 0,
        title=info.title if info else None,
        performer=info.performer if info else None,
    )
    return types.InputMediaUploadedDocument(
        file=handle,
        mime_type=mime if mime.startswith("audio/") else _AUDIO_MIMES.get(container, mime),
        attributes=[attribute, name],
        thumb=cover,
    )


def reference(result: Any) -> Any:
    """The reusable media reference in an ``uploadMedia`` answer."""
    if isinstance(result, types.MessageMediaPhoto) and isinstance(result.photo, types.Photo):
        p = result.photo
        return types.InputMediaPhoto(
            id=types.InputPhoto(id=p.id, access_hash=p.access_hash, file_reference=p.file_reference)
        )
    if isinstance(result, types.MessageMediaDocument) and isinstance(
        result.document, types.Document
    ):
        d = result.document
        return types.InputMediaDocument(
            id=types.InputDocument(
                id=d.id, access_hash=d.access_hash, file_reference=d.file_reference
            )
        )
    raise FerrymanError("telegram.rejected", f"uploadMedia answered {type(result).__name__}")


def encode(tl: Any) -> str:
    return base64.b64encode(bytes(tl)).decode("ascii")


def decode(text: str) -> Any:
    with BinaryReader(base64.b64decode(text)) as reader:
        return reader.tgread_object()
