"""The fake's data centres: where an account lives, where a file is kept, and its CDN.

Telegram keeps each account on a home data centre and each file on the DC it was
uploaded to (``Document.dc_id``, ``Photo.dc_id``). An auth key belongs to one DC: a
client reaches another with a new key there, authorised by ``auth.exportAuthorization``
(home DC) then ``auth.importAuthorization`` (that DC). ``upload.getFile`` on a DC that
does not hold the file answers ``FILE_MIGRATE_X`` (``handlers/downloads``).

Files marked for the CDN (:func:`put_on_cdn`) are answered, when the client says
``cdn_supported``, with ``upload.fileCdnRedirect`` (core.telegram.org/cdn): a token, an
AES-256-CTR key and IV, and the SHA-256 of the first 128 KiB parts. ``upload.getCdnFile``
on the CDN DC (no account there: CDN connections are not logged in) answers the bytes
encrypted (the IV's last 4 bytes: offset / 16, big-endian), or
``upload.cdnFileReuploadNeeded`` until ``upload.reuploadCdnFile`` on the master DC has
put the file there. Test knobs: :func:`corrupt_cdn_part` makes the CDN send wrong bytes
for one part; :func:`move_media` keeps a file on another DC.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from Cryptodome.Cipher import AES
from telethon.tl import types

if TYPE_CHECKING:
    from faketg.sender import FakeSender
    from faketg.server import FakeTelegram
    from faketg.state import StoredMedia

HOME = 2  # where accounts live unless told otherwise (a new client's DC too)
MAIN = (1, 2, 3, 4, 5)
CDN = 203
CDN_PART = 128 * 1024  # the size of a hashed part
REDIRECT_HASHES = 8  # hashes a redirect carries (the first MiB's)
CDN_HASHES = 8  # hashes one ``upload.getCdnFileHashes`` answers


@dataclass(slots=True)
class CdnEntry:
    """One file handed to the CDN: its token's key and IV, and whether it is there yet."""

    media_id: int
    key: bytes
    iv: bytes
    uploaded: bool
    request_tokens: set[bytes] = field(default_factory=set)  # handed out, each good once


@dataclass(slots=True)
class DataCentres:
    """Which DC each auth key belongs to, exports awaiting import, and the CDN's state."""

    key_dcs: dict[int, int] = field(default_factory=dict)  # auth key id -> its DC
    exports: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # bytes -> (acc, dc)
    cdn_media: dict[int, bool] = field(default_factory=dict)  # media id -> reupload needed
    tokens: dict[bytes, CdnEntry] = field(default_factory=dict)
    corrupt: dict[tuple[int, int], int] = field(default_factory=dict)  # (media, offset) -> n
    migrated: int = 0  # FILE_MIGRATE answers
    redirects: int = 0  # fileCdnRedirect answers
    reuploads: int = 0  # reuploadCdnFile requests served
    cdn_parts: int = 0  # getCdnFile answers with bytes
    corrupted: int = 0  # of those, parts sent wrong

    def dc_of(self, sender: FakeSender) -> int:
        """The DC a connection reached: the one it dialled, else its key's (home)."""
        if sender.dc_id is not None:
            return sender.dc_id
        key_id = sender.auth_key.key_id
        return self.key_dcs.get(key_id, HOME) if key_id is not None else HOME

    def key_serves(self, sender: FakeSender) -> bool:
        """Whether the connection's key is authorised on the DC it reached."""
        key_id = sender.auth_key.key_id
        if sender.dc_id is None or key_id is None:
            return True
        return self.key_dcs.get(key_id, HOME) == sender.dc_id


def move_media(media: StoredMedia, dc_id: int) -> None:
    """Keep ``media`` on ``dc_id`` (as if uploaded by someone living there)."""
    media.dc_id = dc_id
    media.tl.dc_id = dc_id


def put_on_cdn(server: FakeTelegram, media: StoredMedia, *, reupload_needed: bool = False) -> None:
    """Serve ``media`` through the CDN to clients that support it; ``reupload_needed``:
    the CDN does not hold it yet (its first ``getCdnFile`` asks for a reupload)."""
    server.dcs.cdn_media[media.id] = reupload_needed


def corrupt_cdn_part(server: FakeTelegram, media: StoredMedia, offset: int, times: int = 1) -> None:
    """The CDN sends wrong bytes for the 128 KiB part at ``offset``, ``times`` times."""
    server.dcs.corrupt[(media.id, offset // CDN_PART * CDN_PART)] = times


def redirect(server: FakeTelegram, media: StoredMedia, data: bytes) -> Any:
    """``upload.fileCdnRedirect`` for ``media``: a new token each time it is asked."""
    dcs = server.dcs
    token = os.urandom(16)
    dcs.tokens[token] = CdnEntry(
        media.id, os.urandom(32), os.urandom(16), not dcs.cdn_media[media.id]
    )
    dcs.redirects += 1
    entry = dcs.tokens[token]
    return types.upload.FileCdnRedirect(
        dc_id=CDN,
        file_token=token,
        encryption_key=entry.key,
        encryption_iv=entry.iv,
        file_hashes=hashes(data, 0, REDIRECT_HASHES),
    )


def hashes(data: bytes, offset: int, count: int) -> list[Any]:
    """The ``FileHash`` of each 128 KiB part from ``offset`` (a part's start), up to
    ``count`` of them."""
    at = offset // CDN_PART * CDN_PART
    out: list[Any] = []
    while at < len(data) and len(out) < count:
        part = data[at : at + CDN_PART]
        out.append(types.FileHash(offset=at, limit=len(part), hash=hashlib.sha256(part).digest()))
        at += CDN_PART
    return out


def cdn_bytes(server: FakeTelegram, entry: CdnEntry, data: bytes, offset: int) -> bytes:
    """``data`` (the file's bytes at ``offset``) as the CDN sends them: encrypted, with
    the parts a test corrupted made wrong."""
    plain = bytearray(data)
    for at in range(offset // CDN_PART * CDN_PART, offset + len(data), CDN_PART):
        left = server.dcs.corrupt.get((entry.media_id, at), 0)
        if left > 0 and at >= offset:
            server.dcs.corrupt[(entry.media_id, at)] = left - 1
            server.dcs.corrupted += 1
            plain[at - offset] ^= 0xFF
    return ctr(entry.key, entry.iv, offset, bytes(plain))


def ctr(key: bytes, iv: bytes, offset: int, data: bytes) -> bytes:
    """AES-256-CTR as the CDN uses it (the same both ways)."""
    counter = iv[:12] + (offset // 16).to_bytes(4, "big")
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=counter).encrypt(data)
