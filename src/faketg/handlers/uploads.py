"""File parts, and ``messages.uploadMedia`` turning an upload into a media reference.

Rules enforced (core.telegram.org/api/files): a part is at most 512 KiB, its size a
multiple of 1 KiB that divides 512 KiB; every part but the last has the same size; small
files (``saveFilePart``) up to 10 MB, big ones up to the server's ``upload_parts`` (4000
parts, 2000 MiB), ``upload_parts_premium`` with Premium (8000), as ``help.getAppConfig`` says;
``uploadMedia`` needs every part (``FILE_PART_X_MISSING`` names the first gap). Photos
must decode and fit the photo limits; a thumbnail must be a JPEG within 320 px and
200 KB or it is ignored, as Telegram ignores it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from typing import TYPE_CHECKING, Any

from PIL import Image
from telethon.tl import functions, types

from faketg.sender import RpcFault
from faketg.state import StoredFile, StoredMedia, Upload
from faketg.tl import BOOL_TRUE, Raw, resolve_peer, when

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

MAX_PART = 512 * 1024
SMALL_FILE_MAX = 10 * 1024 * 1024
PHOTO_MAX = 10 * 1024 * 1024


def _key(call: Call, file_id: int) -> tuple[int, int]:
    return (call.sender.auth_key.key_id or 0, file_id)


def _upload(server: FakeTelegram, call: Call, req: Any, *, big: bool) -> Upload:
    """The upload this part belongs to (a fresh one if its parts expired); the part
    counted in ``server.parts``."""
    key = _key(call, req.file_id)
    up = server.uploads.get(key)
    now = server.clock()
    if up is None or server.parts.stale(up, now):
        up = server.uploads[key] = Upload(big=big, started=now)
    server.parts.arrived(key, req.file_part, len(req.bytes))
    return up


def _check_part(data: bytes, part: int, limit: int) -> None:
    if len(data) > MAX_PART:
        raise RpcFault(400, "FILE_PART_TOO_BIG")
    if not data:
        raise RpcFault(400, "FILE_PART_EMPTY")
    if part < 0 or part >= limit:
        raise RpcFault(400, "FILE_PART_INVALID")


async def save_file_part(server: FakeTelegram, call: Call, req: Any) -> Any:
    _check_part(req.bytes, req.file_part, 4000)
    up = _upload(server, call, req, big=False)
    _keep(server, up, req.file_part, req.bytes)
    up.saves += 1
    return Raw(BOOL_TRUE)


async def save_big_file_part(server: FakeTelegram, call: Call, req: Any) -> Any:
    limit = _parts_allowed(server, call)
    if req.file_total_parts <= 0 or req.file_total_parts > limit:
        raise RpcFault(400, "FILE_PARTS_INVALID")
    _check_part(req.bytes, req.file_part, req.file_total_parts)
    up = _upload(server, call, req, big=True)
    if up.total is not None and up.total != req.file_total_parts:
        raise RpcFault(400, "FILE_PARTS_INVALID")
    up.total, up.big = req.file_total_parts, True
    _keep(server, up, req.file_part, req.bytes)
    up.saves += 1
    return Raw(BOOL_TRUE)


def _keep(server: FakeTelegram, up: Upload, index: int, data: bytes) -> None:
    """Keep a part's bytes, or (a big file without ``keep_part_bytes``) fold them into a hash.

    Parts are hashed in order, so one that arrives ahead of a gap waits in ``parts``. A part
    sent again after it was hashed only updates its size: its bytes are gone to compare.
    """
    up.sizes[index] = len(data)
    if up.digest is None and (server.keep_part_bytes or not up.big):
        up.parts[index] = data
        return
    if up.digest is None:
        up.digest = hashlib.sha256()
    if index >= up.hashed:
        up.parts[index] = data
    while up.hashed in up.parts:
        up.digest.update(up.parts.pop(up.hashed))
        up.hashed += 1


def assemble(
    server: FakeTelegram, call: Call, input_file: Any, *, check_md5: bool = True
) -> StoredFile:
    """The whole file an ``InputFile``/``InputFileBig`` names, checking the part rules;
    ``check_md5`` off: the caller checks the MD5 (``md5_matches``), off the loop."""
    key = _key(call, input_file.id)
    up = server.uploads.get(key)
    if up is not None and server.parts.stale(up, server.clock()):
        del server.uploads[key]  # kept too long: gone, as Telegram forgets parts
        up = None
    count = input_file.parts
    big = isinstance(input_file, types.InputFileBig)
    if up is None:
        raise RpcFault(400, "FILE_PART_0_MISSING")
    if big != up.big or (big and up.total != count):
        raise RpcFault(400, "FILE_PARTS_INVALID")
    sizes = up.sizes
    for i in range(count):
        if i not in sizes:
            raise RpcFault(400, f"FILE_PART_{i}_MISSING")
    if any(i >= count for i in sizes):
        raise RpcFault(400, "FILE_PARTS_INVALID")
    size = sizes[0]
    if count > 1 and (size % 1024 or MAX_PART % size):
        raise RpcFault(400, "FILE_PART_SIZE_INVALID")
    for i in range(count - 1):
        if sizes[i] != size:
            raise RpcFault(400, "FILE_PART_SIZE_CHANGED")
    if sizes[count - 1] > size:
        raise RpcFault(400, "FILE_PART_SIZE_CHANGED")
    if up.digest is not None:  # big, bytes not kept: every part is in the hash by now
        total = sum(sizes[i] for i in range(count))
        _check_total(server, call, total)
        return StoredFile(b"", input_file.name, total, up.digest.hexdigest())
    data = b"".join(up.parts[i] for i in range(count))
    if not big:
        if len(data) > SMALL_FILE_MAX:
            raise RpcFault(400, "FILE_PARTS_INVALID")
        if check_md5:
            md5_matches(data, input_file.md5_checksum)
    _check_total(server, call, len(data))
    return StoredFile(data, input_file.name)


def md5_matches(data: bytes, md5_checksum: str) -> None:
    """A small file's MD5, when the client gave one, must be its bytes'."""
    if md5_checksum and hashlib.md5(data).hexdigest() != md5_checksum:
        raise RpcFault(400, "MD5_CHECKSUM_INVALID")


def _parts_allowed(server: FakeTelegram, call: Call) -> int:
    return server.upload_parts_premium if call.me().premium else server.upload_parts


def _check_total(server: FakeTelegram, call: Call, size: int) -> None:
    if size > _parts_allowed(server, call) * MAX_PART:
        raise RpcFault(400, "FILE_PARTS_INVALID")


def _checked_photo_size(file: StoredFile, input_file: Any) -> tuple[int, int]:
    if not isinstance(input_file, types.InputFileBig):
        md5_matches(file.data, input_file.md5_checksum)
    return _photo_size(file)


def _photo_size(file: StoredFile) -> tuple[int, int]:
    """An uploaded photo's size, decoded whole; the faults Telegram gives a bad one."""
    if file.size > PHOTO_MAX:
        raise RpcFault(400, "PHOTO_SAVE_FILE_INVALID")
    w, h = image_size(file.data, load=True)
    if w + h > 10000 or max(w, h) > 20 * min(w, h):
        raise RpcFault(400, "PHOTO_INVALID_DIMENSIONS")
    return w, h


def image_size(data: bytes, *, load: bool) -> tuple[int, int]:
    """The picture's width and height; one Pillow cannot open is IMAGE_PROCESS_FAILED.
    ``load``: decoded whole, as an upload is (a look at its header may pass a broken one).
    A JPEG is decoded at an eighth of its size (libjpeg's DCT scaling): every byte of its
    entropy-coded data is still read, so a truncated or corrupt one fails as before, at
    about half the CPU (5.4 -> 2.9 ms for the bench's photos, 2026-11-29)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            if load:
                if im.format == "JPEG":
                    im.draft(im.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
                im.load()
            return size
    except Exception as exc:
        raise RpcFault(400, "IMAGE_PROCESS_FAILED") from exc


def photo_media(
    server: FakeTelegram, file: StoredFile, size: tuple[int, int], owner: int
) -> StoredMedia:
    """A photo as the server keeps it: one size, the JPEG as it came."""
    w, h = size
    pid, access = server.new_id(), server.rng.getrandbits(63)
    ref = os.urandom(8)
    tl = types.Photo(
        id=pid,
        access_hash=access,
        file_reference=ref,
        date=when(server.clock()),
        sizes=[types.PhotoSize(type="y", w=w, h=h, size=file.size)],
        dc_id=_home(server, owner),
    )
    return StoredMedia(
        "photo",
        pid,
        access,
        ref,
        file,
        tl,
        "image/jpeg",
        width=w,
        height=h,
        owner=owner,
        dc_id=tl.dc_id,
    )


def _home(server: FakeTelegram, owner: int) -> int:
    """The DC an account's uploads are kept on: its home."""
    account = server.accounts.get(owner)
    return account.dc_id if account is not None else 2


def _valid_thumb(file: StoredFile) -> tuple[int, int] | None:
    if file.size > 200 * 1024:
        return None
    try:
        with Image.open(io.BytesIO(file.data)) as im:
            if im.format != "JPEG" or max(im.size) > 320:
                return None
            im.load()
            return im.size
    except Exception:
        return None


def _document(server: FakeTelegram, call: Call, media: Any, file: StoredFile) -> StoredMedia:
    attributes = list(media.attributes)
    if not any(isinstance(a, types.DocumentAttributeFilename) for a in attributes):
        attributes.append(types.DocumentAttributeFilename(file.name))
    thumbs: list[Any] = []
    thumb: StoredFile | None = None
    if media.thumb is not None:
        candidate = assemble(server, call, media.thumb)
        dims = _valid_thumb(candidate)
        if dims is not None:
            thumb = candidate
            thumbs = [types.PhotoSize(type="m", w=dims[0], h=dims[1], size=candidate.size)]
    if media.force_file:  # sent as a file: no inline player
        attributes = [a for a in attributes if not isinstance(a, types.DocumentAttributeVideo)]
    did, access = server.new_id(), server.rng.getrandbits(63)
    ref = os.urandom(8)
    tl = types.Document(
        id=did,
        access_hash=access,
        file_reference=ref,
        date=when(server.clock()),
        mime_type=media.mime_type,
        size=file.size,
        dc_id=call.me().dc_id,
        attributes=attributes,
        thumbs=thumbs or None,
    )
    return StoredMedia(
        "document",
        did,
        access,
        ref,
        file,
        tl,
        media.mime_type,
        attributes,
        thumb,
        owner=call.me().id,
        dc_id=tl.dc_id,
    )


def stored_media(server: FakeTelegram, call: Call, media: Any) -> StoredMedia:
    """The server-side media an InputMedia names, making it first if it was just uploaded."""
    if isinstance(media, types.InputMediaUploadedPhoto):
        file = assemble(server, call, media.file)
        stored = photo_media(server, file, _photo_size(file), call.me().id)
    elif isinstance(media, types.InputMediaUploadedDocument):
        stored = _document(server, call, media, assemble(server, call, media.file))
    elif isinstance(media, types.InputMediaPhoto | types.InputMediaDocument):
        ref = media.id
        found = server.media.get(ref.id)
        if found is None or found.access_hash != ref.access_hash:
            raise RpcFault(400, "MEDIA_INVALID")
        if ref.file_reference != found.file_reference:
            raise RpcFault(400, "FILE_REFERENCE_EXPIRED")
        return found
    else:
        raise RpcFault(400, "MEDIA_INVALID")
    server.media[stored.id] = stored
    return stored


def media_tl(stored: StoredMedia) -> Any:
    if stored.kind == "photo":
        return types.MessageMediaPhoto(photo=stored.tl)
    video = any(isinstance(a, types.DocumentAttributeVideo) for a in stored.attributes)
    return types.MessageMediaDocument(document=stored.tl, video=video or None)


async def upload_media(server: FakeTelegram, call: Call, req: Any) -> Any:
    resolve_peer(server, call, req.peer)
    media = req.media
    if isinstance(media, types.InputMediaUploadedPhoto):
        # Checked and decoded on a thread (hashlib and Pillow let go of the GIL), not on
        # the loop the client shares: a server's work is not its client's, and on the
        # loop the fake's ~5 ms a photo (and 2-4 ms of MD5 under load) counted against
        # the client (ten in a row per album).
        file = assemble(server, call, media.file, check_md5=False)
        size = await asyncio.to_thread(_checked_photo_size, file, media.file)
        stored = photo_media(server, file, size, call.me().id)
        server.media[stored.id] = stored
        return media_tl(stored)
    return media_tl(stored_media(server, call, media))


HANDLERS: dict[type, Any] = {
    functions.upload.SaveFilePartRequest: save_file_part,
    functions.upload.SaveBigFilePartRequest: save_big_file_part,
    functions.messages.UploadMediaRequest: upload_media,
}
