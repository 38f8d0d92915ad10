"""Entry names stored in a legacy code page, decoded as the tool that wrote them meant.

Zips from Windows' "Send to compressed folder" (and many other Windows tools) store
names in the OEM code page without zip's UTF-8 flag: cp437/cp850 in the West, cp866 in
Russia, cp737 in Greece, cp862 Hebrew, cp720 Arabic, cp874 Thai, cp932 (Shift-JIS) in
Japan, cp936 (GBK) in China, cp950 (Big5) in Taiwan and Hong Kong, cp949 in Korea;
other tools write the ANSI code page (cp1251, cp1253, cp1258 …). A tar or cpio stores
its maker's locale's bytes (Latin-1, KOI8-R, EUC-JP …); an LHA archive Shift-JIS.
Decoded as UTF-8 with "replace", every such name became ``Caf\ufffd.jpg``, and names
that differed only in their non-ASCII letters collided.

Which code page is not recorded, and the double-byte ones read each other's bytes as
valid letters, so one name alone is often ambiguous. But one archive comes from one
machine: a ``NameDecoder`` (one per archive) adds up ``codepages.score`` of every name
that is not UTF-8 per candidate, and reads each such name in the best. A zip's names
are all known before the first entry (its central directory: ``zip_stored_names``), so
every name of it is read alike; a tar is read as it streams, each name with the
evidence of the names before it and itself. A name the chosen page cannot read is read
in the best page that can, and cp437 (zip's default, which maps every byte) is the
last resort: the decoder never raises, and never makes a separator of a byte that was
not one (a DBCS letter whose second byte is 0x5C, Shift-JIS's 表 or Big5's 功, stays
one letter). A part of a path that is UTF-8 keeps it (a Windows zip unzipped into a
folder made here). A zip entry with Info-ZIP's Unicode Path field (0x7075) is named by
it, when its CRC matches the stored name (else a later tool renamed the entry).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ferryman.archive.codepages import (
    ARCHIVE_CODEPAGES,
    DISK_CODEPAGES,
    FALLBACK,
    PRIOR,
    decoded,
    rejoin,
    scores,
)

EVIDENCE = 256  # names that are not UTF-8 scored per archive, at most
_UTF8_FLAG = 0x800  # zip's general purpose bit 11: the name is UTF-8
_UNICODE_PATH = 0x7075  # Info-ZIP's Unicode Path extra field


class NameDecoder:
    """One archive's legacy names, read in the code page all of them look written in.

    ``names``: every stored name, when known up front (a zip's central directory): the
    choice is then fixed. Without them, each name decoded adds its evidence first.
    ``on_disk``: names from this machine's filesystem, where a tie goes to cp1252 (a
    Latin-1 disk), not to an archive's DOS code page. Each candidate starts at its
    ``PRIOR``, once per archive: it decides a tie, never outweighs a name's evidence.
    """

    def __init__(self, names: Sequence[bytes] = (), *, on_disk: bool = False) -> None:
        self._codepages = DISK_CODEPAGES if on_disk else ARCHIVE_CODEPAGES
        self._totals = [PRIOR.get(codepage, 0.0) for codepage in self._codepages]
        self._best = self._codepages[0]
        self._learned = 0
        for raw in names:
            self.learn(raw)
        self._learning = not names

    @property
    def codepage(self) -> str:
        """The code page the names seen so far look written in."""
        return self._best

    def learn(self, raw: bytes) -> None:
        """Count ``raw``'s legacy parts as evidence for each candidate: the first
        ``EVIDENCE`` names that are not UTF-8 (enough to tell; each costs about a
        millisecond, and an archive can hold a million names)."""
        if self._learned >= EVIDENCE or _is_utf8(raw):
            return
        self._learned += 1
        for i, value in enumerate(scores(raw, self._codepages)):
            self._totals[i] += value
        best = max(range(len(self._totals)), key=lambda i: (self._totals[i], -i))
        self._best = self._codepages[best]

    def decode(self, raw: bytes) -> str:
        """``raw`` (a stored name, or a line naming one) as text; never raises."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if self._learning:
            self.learn(raw)
        text = _read(raw, self._best)
        if text is None:  # a name the archive's page cannot read: its own best guess
            own = [
                value + PRIOR.get(codepage, 0.0)
                for value, codepage in zip(
                    scores(raw, self._codepages), self._codepages, strict=True
                )
            ]
            ranked = sorted(range(len(own)), key=lambda i: (-own[i], i))
            text = next(
                (t for i in ranked if (t := _read(raw, self._codepages[i])) is not None),
                None,
            )
        return _read(raw, FALLBACK) or raw.decode(FALLBACK) if text is None else text


def _read(raw: bytes, codepage: str) -> str | None:
    """``raw`` read in ``codepage`` part by part (UTF-8 parts kept), or None when a
    part is not valid there. Never more slashes than ``raw`` has: no candidate maps
    another byte to one (``tests/unit/test_stored_names_property.py``)."""
    out = []
    for part in rejoin(raw, codepage).split(b"/"):
        text = part.decode() if _is_utf8(part) else decoded(part, codepage)
        if text is None or "/" in text:
            return None
        out.append(text)
    return "/".join(out)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_stored_name(raw: bytes, *, on_disk: bool = False) -> str:
    """One name alone (a file on this disk, a line of a tool's output): the evidence
    is this name's only (``NameDecoder`` reads an archive's names together)."""
    return NameDecoder(on_disk=on_disk).decode(raw)


def _unicode_path(member: zipfile.ZipInfo, stored: bytes) -> str | None:
    """The name in Info-ZIP's Unicode Path field (0x7075: version 1, the CRC-32 of the
    stored name, the UTF-8 name), when there is one and it names this stored name."""
    extra = member.extra
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4 : at + 4 + size]
        at += 4 + size
        if kind != _UNICODE_PATH or len(body) < 5 or body[0] != 1:
            continue
        if struct.unpack_from("<L", body, 1)[0] != zlib.crc32(stored):
            return None  # the stored name was changed after the field was written
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _stored(member: zipfile.ZipInfo) -> bytes | None:
    """A member's stored name bytes, when they are not flagged UTF-8 (``zipfile``
    reads an unflagged name as cp437, which maps every byte: it gives them back)."""
    if member.flag_bits & _UTF8_FLAG:
        return None
    return member.filename.encode("cp437")


def zip_member_names(members: Sequence[zipfile.ZipInfo]) -> list[str]:
    """Zip members' names as libarchive's reader gives them: flagged UTF-8, else by
    their Unicode Path field, else guessed together (``NameDecoder``). ``zipfile``
    reads an unflagged name as cp437, which is only zip's default (macOS's Archive
    Utility writes UTF-8 without the flag; Windows its OEM code page)."""
    stored = [_stored(member) for member in members]
    unicode = [
        None if raw is None else _unicode_path(member, raw)
        for member, raw in zip(members, stored, strict=True)
    ]
    guessed = [raw for raw, known in zip(stored, unicode, strict=True) if raw and not known]
    names = NameDecoder(guessed)
    return [
        member.filename if raw is None else known if known is not None else names.decode(raw)
        for member, raw, known in zip(members, stored, unicode, strict=True)
    ]


def zip_stored_names(file: Path | IO[bytes]) -> list[bytes]:
    """The stored names of a zip's entries that need guessing (no UTF-8 flag, no
    Unicode Path field), from its central directory; none when it cannot be read
    (a damaged zip: its names are then guessed as they come)."""
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        return []
    found = []
    for member in members:
        raw = _stored(member)
        if raw is not None and _unicode_path(member, raw) is None:
            found.append(raw)
    return found
