"""A torrent's identity: a magnet's info hash (``info_hash``), and a ``.torrent``
file's, read strictly: its info hash (SHA-1 of the ``info``
dictionary's bytes as they stand in the file, BEP 3), its name and its size. The file
is outside input: the bencode reader is bounded (nesting, size), total (every flaw is
``source.invalid``) and keeps the raw span of ``info``, which re-encoding a decoded
dictionary would not give back for a file written loosely."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ferryman.errors import FerrymanError

_HEX = re.compile(r"^[0-9a-fA-F]{40}$")
_BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")
MAX_BYTES = 16 << 20  # a .torrent of a few thousand files is well under a megabyte
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class TorrentFile:
    info_hash: str  # 40 lowercase hex digits
    name: str
    size: int


def info_hash(magnet: str) -> str:
    """The magnet's BitTorrent info hash as 40 lowercase hex digits (a base32 one
    converted); ``source.invalid`` when it has none."""
    query = urllib.parse.urlsplit(magnet.strip()).query
    for value in urllib.parse.parse_qs(query).get("xt", []):
        if not value.lower().startswith("urn:btih:"):
            continue
        digest = value[len("urn:btih:") :]
        if _HEX.fullmatch(digest):
            return digest.lower()
        if _BASE32.fullmatch(digest):
            return base64.b32decode(digest.upper()).hex()
    raise FerrymanError(
        "source.invalid",
        "the magnet link names no BitTorrent info hash (xt=urn:btih: with 40 hex or 32"
        " base32 characters)",
    )


def read_torrent(data: bytes) -> TorrentFile:
    """What ``data`` (a ``.torrent`` file's bytes) names; ``source.invalid`` if it is no
    torrent (not bencode, no ``info`` dictionary, nothing after it allowed)."""
    if len(data) > MAX_BYTES:
        raise _invalid(f"larger than {MAX_BYTES >> 20} MiB")
    reader = _Reader(data)
    top = reader.value(0)
    if reader.at != len(data):
        raise _invalid("bytes after its end")
    if not isinstance(top, dict) or reader.info_span is None:
        raise _invalid("no info dictionary")
    info = top[b"info"]
    if not isinstance(info, dict):
        raise _invalid("no info dictionary")
    start, end = reader.info_span
    name = info.get(b"name.utf-8", info.get(b"name"))
    shown = name.decode("utf-8", "replace").strip() if isinstance(name, bytes) else ""
    return TorrentFile(hashlib.sha1(data[start:end]).hexdigest(), shown, _size(info))


def _size(info: dict[bytes, Any]) -> int:
    length = info.get(b"length")
    if isinstance(length, int) and length >= 0:
        return length
    files = info.get(b"files")
    if not isinstance(files, list):
        return 0
    return sum(
        f[b"length"]
        for f in files
        if isinstance(f, dict) and isinstance(f.get(b"length"), int) and f[b"length"] >= 0
    )


def _invalid(why: str) -> FerrymanError:
    return FerrymanError(
        "source.invalid",
        f"not a .torrent file ({why}): give the .torrent as the site gave it, or its magnet link",
    )


class _Reader:
    """Bencode from ``data``: integers, byte strings, lists, dictionaries (keys byte
    strings); the top dictionary's ``info`` span kept."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.info_span: tuple[int, int] | None = None

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _invalid("nested too deep")
        if self.at >= len(self.data):
            raise _invalid("cut short")
        head = self.data[self.at : self.at + 1]
        if head == b"i":
            return self._integer()
        if head == b"l":
            self.at += 1
            items = []
            while self._peek() != b"e":
                items.append(self.value(depth + 1))
            self.at += 1
            return items
        if head == b"d":
            return self._dictionary(depth)
        if head.isdigit():
            return self._string()
        raise _invalid(f"unexpected byte {head!r} at {self.at}")

    def _peek(self) -> bytes:
        if self.at >= len(self.data):
            raise _invalid("cut short")
        return self.data[self.at : self.at + 1]

    def _dictionary(self, depth: int) -> dict[bytes, Any]:
        self.at += 1
        found: dict[bytes, Any] = {}
        while self._peek() != b"e":
            key = self._string()
            start = self.at
            found[key] = self.value(depth + 1)
            if depth == 0 and key == b"info":
                self.info_span = (start, self.at)
        self.at += 1
        return found

    def _integer(self) -> int:
        end = self.data.find(b"e", self.at)
        digits = self.data[self.at + 1 : end] if end > 0 else b""
        if not _well_formed_integer(digits):
            raise _invalid(f"a bad integer at {self.at}")
        self.at = end + 1
        return int(digits)

    def _string(self) -> bytes:
        colon = self.data.find(b":", self.at)
        digits = self.data[self.at : colon] if colon > 0 else b""
        if not digits.isdigit() or len(digits) > 9 or (len(digits) > 1 and digits[0:1] == b"0"):
            raise _invalid(f"a bad string length at {self.at}")
        start = colon + 1
        end = start + int(digits)
        if end > len(self.data):
            raise _invalid("cut short")
        self.at = end
        return self.data[start:end]


def _well_formed_integer(digits: bytes) -> bool:
    body = digits[1:] if digits[:1] == b"-" else digits
    if not body.isdigit() or len(body) > 20:
        return False
    return not (body[:1] == b"0" and (len(body) > 1 or digits[:1] == b"-"))
