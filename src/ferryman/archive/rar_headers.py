"""RAR headers read directly, for what libarchive does not say about them.

libarchive 3.6.2 reads RAR5's encrypted data as if it were plain (``Rar5Scan``
finds the encryption records itself) and reads a multi-volume RAR one volume at a
time (``is_rar_volume`` spots a part of such a set from its main header, so it can
go to 7-Zip whole). Kept apart from ``libarchive.backend``: this is the RAR format,
not libarchive.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from ferryman.errors import FerrymanError

RAR5_MAGIC = b"Rar!\x1a\x07\x01\x00"
_RAR5_MAX_HEADER = 2 << 20  # the format's own limit on a header's size
_RAR5_FILE, _RAR5_SERVICE, _RAR5_CRYPT_HEADERS, _RAR5_END = 2, 3, 4, 5
_RAR5_EXTRA_CRYPT = 0x01
# The record's flags: password check data (a password was set), checksums MACs of the key.
_RAR5_CRYPT_CHECKED, _RAR5_CRYPT_TWEAKED = 0x01, 0x02


class _Truncated(Exception):
    pass


def _vint(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    """RAR5's variable-length integer at ``pos``: (value, next position)."""
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Truncated
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


class Rar5Scan:
    """Which RAR5 file headers announce encrypted data.

    libarchive 3.6.2 ignores RAR5's encryption record and reads ciphertext as data:
    garbage, or an error only sometimes and not always before the first block. This
    reads the same headers itself from the bytes libarchive is fed (``feed``, with
    their offset) and records, per file header in order, its name and whether it
    has an encryption record. It gives up quietly (``lost``) on anything it does
    not understand; libarchive's own errors still apply then.
    """

    def __init__(self) -> None:
        self._next = len(RAR5_MAGIC)  # offset of the block in _pending[0]
        self._pending = bytearray()
        self.lost = False
        self.done = False
        # Per file header: its name, whether it has an encryption record, and its
        # data CRC32 when that is plain (no record, or one that does not tweak it).
        self.files: list[tuple[bytes, bool, int | None]] = []

    @classmethod
    def of_file(cls, path: Path) -> Rar5Scan:
        """Scan the headers of a RAR5 file (seeking over the data)."""
        scan = cls()
        try:
            with path.open("rb") as f:
                while not (scan.lost or scan.done):
                    want = scan.want()
                    f.seek(want)
                    chunk = f.read(4096)
                    if not chunk:
                        break
                    scan.feed(want, chunk)
        except OSError:
            scan.lost = True  # libarchive will say what is wrong with the file
        return scan

    def want(self) -> int:
        return self._next + len(self._pending)

    def feed(self, pos: int, data: bytes | memoryview) -> None:
        if self.lost or self.done:
            return
        want = self.want()
        if pos + len(data) <= want:
            return  # inside a data area
        if pos > want:
            self.lost = True  # a header went by unseen
            return
        self._pending += data[want - pos :]
        try:
            self._parse()
        except (_Truncated, IndexError, ValueError):
            self.lost = True

    def encrypted(self, number: int, name: bytes | None) -> bool | None:
        """Whether file header ``number`` (0-based) is encrypted; None if unknown."""
        if number >= len(self.files):
            return None
        stored, encrypted, _ = self.files[number]
        if name is not None and stored.replace(b"\\", b"/") != name.replace(b"\\", b"/"):
            return None
        return encrypted

    def plain_crc(self, number: int, name: bytes | None) -> int | None:
        """The plain CRC32 of file header ``number``'s data, if it has one: an
        encryption record with neither password check data nor MAC checksums leaves
        the CRC of the plain data, so bytes read as plain that match it are the file
        (a writer that added the record and never encrypted: libarchive's
        ``only_crypt_exfld`` sample, which bsdtar reads and 7-Zip fails); encrypted
        ones fail it."""
        if self.encrypted(number, name) is None:
            return None
        return self.files[number][2]

    def _parse(self) -> None:
        buf = self._pending
        while not self.done:
            if len(buf) < 5:
                return
            try:
                size, body = _vint(buf, 4, min(len(buf), 7))
            except _Truncated:
                if len(buf) >= 7:
                    raise ValueError("header size too long") from None
                return
            if not 0 < size <= _RAR5_MAX_HEADER:
                raise ValueError("bad header size")
            end = body + size
            if len(buf) < end:
                return
            if zlib.crc32(buf[4:end]) != int.from_bytes(buf[:4], "little"):
                raise ValueError("header CRC mismatch")
            data_size = self._header(buf, body, end)
            total = end + data_size
            self._next += total
            del buf[: min(total, len(buf))]

    def _header(self, buf: bytearray, pos: int, end: int) -> int:
        kind, pos = _vint(buf, pos, end)
        flags, pos = _vint(buf, pos, end)
        extra_size = data_size = 0
        if flags & 0x01:
            extra_size, pos = _vint(buf, pos, end)
        if flags & 0x02:
            data_size, pos = _vint(buf, pos, end)
        if kind in (_RAR5_CRYPT_HEADERS, _RAR5_END):
            self.done = True  # encrypted headers: libarchive says so itself
        elif kind == _RAR5_FILE:
            file_flags, pos = _vint(buf, pos, end)
            _, pos = _vint(buf, pos, end)  # unpacked size
            _, pos = _vint(buf, pos, end)  # attributes
            pos += 4 if file_flags & 0x02 else 0  # mtime
            crc: int | None = None
            if file_flags & 0x04:  # data CRC32
                crc = int.from_bytes(buf[pos : pos + 4], "little")
                pos += 4
            _, pos = _vint(buf, pos, end)  # compression information
            _, pos = _vint(buf, pos, end)  # host OS
            name_size, pos = _vint(buf, pos, end)
            if pos + name_size > end:
                raise _Truncated
            name = bytes(buf[pos : pos + name_size])
            crypt = self._crypt_flags(buf, end - extra_size, end)
            if crypt is not None and crypt & (_RAR5_CRYPT_CHECKED | _RAR5_CRYPT_TWEAKED):
                crc = None  # a password was set, or the CRC is a MAC: encrypted for sure
            self.files.append((name, crypt is not None, crc))
        return data_size

    @staticmethod
    def _crypt_flags(buf: bytearray, pos: int, end: int) -> int | None:
        """The flags of the encryption record among the extra records, or None."""
        while pos < end:
            size, body = _vint(buf, pos, end)
            kind, field = _vint(buf, body, end)
            if kind == _RAR5_EXTRA_CRYPT:
                _, field = _vint(buf, field, end)  # version
                flags, _ = _vint(buf, field, end)
                return flags
            pos = body + size
        return None


_RAR4_MAGIC = b"Rar!\x1a\x07\x00"


def is_rar_volume(head: bytes) -> bool:
    """Whether a RAR's main header (in its first bytes) marks it a multi-volume part.

    libarchive reads one volume at a time: an entry split across volumes yields the
    first part's bytes, then fails as "Truncated"; so such sets go to 7-Zip whole.
    """
    try:
        if head.startswith(_RAR4_MAGIC):  # main header: CRC16, type 0x73, flags16
            at = len(_RAR4_MAGIC)
            return head[at + 2] == 0x73 and bool(head[at + 3] & 0x01)
        if head.startswith(RAR5_MAGIC):  # CRC32, size, type 1, flags, [extra], archive flags
            end = len(head)
            _, pos = _vint(head, len(RAR5_MAGIC) + 4, end)
            kind, pos = _vint(head, pos, end)
            flags, pos = _vint(head, pos, end)
            if kind != 1:
                return False
            if flags & 0x01:
                _, pos = _vint(head, pos, end)
            if flags & 0x02:
                _, pos = _vint(head, pos, end)
            archive_flags, _ = _vint(head, pos, end)
            return bool(archive_flags & 0x01)
    except (_Truncated, IndexError):
        return False
    return False


def refuse_rar_volume(name: str, head: bytes) -> None:
    if is_rar_volume(head):
        raise FerrymanError(
            "archive.unsupported",
            f"{name}: part of a multi-volume RAR set, which libarchive reads one volume at a time",
        )
