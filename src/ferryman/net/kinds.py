"""What a link is, from what the server says: Content-Type first, then the first bytes.

A link's extension decides nothing (``/get?id=3`` is a zip, ``video.mp4`` may be an
HTML login page). A specific Content-Type is believed; a generic one
(``application/octet-stream``, none at all, ``text/plain``) lets the bytes decide,
and the bytes also settle what a type cannot (an animated GIF, a zip that is a
document).
"""

from __future__ import annotations

import lzma
import zlib
from enum import StrEnum

from ferryman.media.classify import HEAD_SIZE, classify
from ferryman.model import MediaKind

SNIFF_BYTES = HEAD_SIZE


class LinkKind(StrEnum):
    """How a link is handled: unpacked, delivered as media, read as a page, or neither."""

    ARCHIVE = "archive"
    VIDEO = "video"
    PHOTO = "photo"
    ANIMATION = "animation"
    AUDIO = "audio"
    DOCUMENT = "document"
    PAGE = "page"  # HTML: a landing page, a login form or an error, never the file itself
    OTHER = "other"


_GENERIC = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/x-download",
        "application/download",
        "application/force-download",
        "application/unknown",
        "text/plain",
    }
)
_ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip",
        "application/x-zip-compressed",
        "application/vnd.rar",
        "application/x-rar",
        "application/x-rar-compressed",
        "application/x-7z-compressed",
        "application/x-tar",
        "application/gzip",
        "application/x-gzip",
        "application/x-gtar",
        "application/x-xz",
        "application/x-bzip2",
        "application/zstd",
        "application/x-zstd",
        "application/x-lzip",
        "application/vnd.ms-cab-compressed",
    }
)
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BY_MEDIA = {
    MediaKind.ARCHIVE: LinkKind.ARCHIVE,
    MediaKind.VIDEO: LinkKind.VIDEO,
    MediaKind.PHOTO: LinkKind.PHOTO,
    MediaKind.ANIMATION: LinkKind.ANIMATION,
    MediaKind.AUDIO: LinkKind.AUDIO,
    MediaKind.DOCUMENT: LinkKind.DOCUMENT,
    MediaKind.OTHER: LinkKind.OTHER,
}
_MEDIA_FAMILIES = {"video": LinkKind.VIDEO, "image": LinkKind.PHOTO, "audio": LinkKind.AUDIO}


def mime_type(content_type: str | None) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_html(head: bytes) -> bool:
    """An HTML document by its start (after a BOM and whitespace)."""
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html"))


def type_decides(content_type: str | None) -> bool:
    """Whether the Content-Type alone settles the kind (the bytes would add nothing)."""
    mime = mime_type(content_type)
    return mime in _PAGE_TYPES or mime in _ARCHIVE_TYPES or mime == "application/pdf"


def kind_of(content_type: str | None, head: bytes = b"", name: str = "") -> LinkKind:
    """The link's kind; ``head`` is the body's first bytes (may be empty), ``name`` only
    breaks ties the bytes cannot settle (as in ``media.classify``)."""
    mime = mime_type(content_type)
    if mime in _PAGE_TYPES:
        return LinkKind.PAGE
    if mime in _ARCHIVE_TYPES:
        return LinkKind.ARCHIVE
    family = mime.split("/", 1)[0]
    if family in _MEDIA_FAMILIES:
        if head:  # the type says media; the bytes say which (a GIF may be an animation)
            sniffed = _BY_MEDIA[classify(head, name)]
            if sniffed in (LinkKind.VIDEO, LinkKind.PHOTO, LinkKind.ANIMATION, LinkKind.AUDIO):
                return sniffed
        return _MEDIA_FAMILIES[family]
    if mime == "application/pdf":
        return LinkKind.DOCUMENT
    if mime not in _GENERIC and not head:
        return LinkKind.OTHER
    if not head:
        return LinkKind.OTHER
    if looks_like_html(head):
        return LinkKind.PAGE
    return _BY_MEDIA[classify(head, name)]


_TAR_NAMES = (".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tzst", ".taz")
_TAR_TYPES = frozenset({"application/x-tar", "application/x-gtar", "application/x-ustar"})
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def tar_stream(head: bytes, name: str = "", content_type: str | None = None) -> bool:
    """Whether a link is a tar, plain or compressed (gzip, bzip2, xz, zstd), that can be
    read front to back as it downloads. The bytes first: ``ustar`` at offset 257, or,
    under gzip or xz, in the first decompressed block; a bzip2 or zstd head says only
    "compressed", so then the name or the type must say tar too."""
    if head[257:262] == b"ustar":
        return True
    compressed = head.startswith(_COMPRESSED)
    inner = _inner_ustar(head) if compressed else None
    if inner is not None:
        return inner
    lowered = name.lower()
    named = lowered.endswith(_TAR_NAMES) or ".tar." in lowered
    typed = mime_type(content_type) in _TAR_TYPES
    if head and not compressed:
        return False  # the bytes say it is something else
    return named or typed


def _inner_ustar(head: bytes) -> bool | None:
    """Under gzip or xz: whether the first decompressed block is a tar header (None:
    cannot tell, as under bzip2 or zstd, or from too few bytes)."""

    try:
        if head.startswith(b"\x1f\x8b"):
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 512)
        elif head.startswith(b"\xfd7zXZ\x00"):
            inner = lzma.LZMADecompressor().decompress(head, 512)
        else:
            return None
    except (zlib.error, lzma.LZMAError, EOFError):
        return False
    return inner[257:262] == b"ustar" if len(inner) >= 262 else None
