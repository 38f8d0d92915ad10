"""A file in a Telegram message, as what a download needs: where it is, how big, its name."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from telethon.tl import types

from ferryman.fsutil import safe_name


@dataclass(frozen=True, slots=True)
class RemoteFile:
    key: str  # "<file id>:<size>": the same file sent twice has the same key
    name: str
    size: int
    dc_id: int
    location: Any  # InputDocumentFileLocation / InputPhotoFileLocation


def remote_file(message: Any) -> RemoteFile | None:
    """The document or photo in ``message``; ``None`` for a message without one."""
    media = getattr(message, "media", None)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        return _document(media.document)
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        return _photo(media.photo)
    return None


def _document(doc: Any) -> RemoteFile:
    name = next(
        (a.file_name for a in doc.attributes if isinstance(a, types.DocumentAttributeFilename)),
        None,
    )
    if not name:
        name = f"file_{doc.id}{mimetypes.guess_extension(doc.mime_type or '') or ''}"
    location = types.InputDocumentFileLocation(doc.id, doc.access_hash, doc.file_reference, "")
    return RemoteFile(
        f"{doc.id}:{doc.size}", safe_name(name), int(doc.size), int(doc.dc_id), location
    )


def _photo(photo: Any) -> RemoteFile | None:
    sizes = [(s, _size_of(s)) for s in photo.sizes]
    sizes = [(s, n) for s, n in sizes if n > 0]
    if not sizes:
        return None
    best, size = max(sizes, key=lambda pair: pair[1])
    location = types.InputPhotoFileLocation(
        photo.id, photo.access_hash, photo.file_reference, best.type
    )
    return RemoteFile(f"{photo.id}:{size}", f"photo_{photo.id}.jpg", size, photo.dc_id, location)


def _size_of(size: Any) -> int:
    if isinstance(size, types.PhotoSize):
        return int(size.size)
    if isinstance(size, types.PhotoSizeProgressive):
        return int(max(size.sizes, default=0))
    return 0
