"""libarchive through ctypes: its C functions (named as in C), status codes, the
formats and filters a sniffed format enables, and a stream fed to it by callback.

Kept apart from ``libarchive.backend`` (the reader) and ``libarchive.entry`` (one
entry's data): this is the C library's surface, not ferryman's reading of it.
"""

from __future__ import annotations

from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char_p,
    c_int,
    c_longlong,
    c_size_t,
    c_ssize_t,
    c_uint,
    c_void_p,
    cast,
    create_string_buffer,
    memmove,
)
from typing import Any, BinaryIO

from libarchive import ffi

from ferryman.archive.rar_headers import Rar5Scan
from ferryman.archive.suffixes import inner_name
from ferryman.errors import FerrymanError

INPUT_BLOCK = 1 << 16  # bytes per read of the packed input (file or stream)

# --- libarchive through ctypes ---------------------------------------------------------

ARCHIVE_EOF = 1
ARCHIVE_RETRY = -10  # a damaged header: the next call looks for the next good one
ARCHIVE_WARN = -20
ARCHIVE_FATAL = -30
AE_IFMT = 0o170000
AE_IFREG = 0o100000
AE_IFLNK = 0o120000
AE_IFDIR = 0o040000
ARCHIVE_FORMAT_CPIO = 0x10000
ARCHIVE_FORMAT_RAW = 0x90000

_lib: Any = ffi.libarchive


def _bind(name: str, argtypes: list[Any], restype: Any) -> Any:
    # Item access gives a fresh function object: libarchive-c's own bindings (with
    # their errcheck hooks) are left as they are.
    fn = _lib[name]
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


archive_read_new = _bind("archive_read_new", [], c_void_p)
archive_read_free = _bind("archive_read_free", [c_void_p], c_int)
archive_read_add_passphrase = _bind("archive_read_add_passphrase", [c_void_p, c_char_p], c_int)
archive_read_open_filename = _bind(
    "archive_read_open_filename", [c_void_p, c_char_p, c_size_t], c_int
)
READ_CALLBACK = CFUNCTYPE(c_ssize_t, c_void_p, c_void_p, POINTER(c_void_p))
archive_read_open = _bind(
    "archive_read_open", [c_void_p, c_void_p, c_void_p, READ_CALLBACK, c_void_p], c_int
)
archive_read_next_header = _bind("archive_read_next_header", [c_void_p, POINTER(c_void_p)], c_int)
archive_read_data = _bind("archive_read_data", [c_void_p, c_void_p, c_size_t], c_ssize_t)
archive_error_string = _bind("archive_error_string", [c_void_p], c_char_p)
archive_filter_bytes = _bind("archive_filter_bytes", [c_void_p, c_int], c_longlong)
archive_format = _bind("archive_format", [c_void_p], c_int)
archive_entry_pathname = _bind("archive_entry_pathname", [c_void_p], c_char_p)
archive_entry_pathname_utf8 = _bind("archive_entry_pathname_utf8", [c_void_p], c_char_p)
archive_entry_hardlink = _bind("archive_entry_hardlink", [c_void_p], c_char_p)
archive_entry_filetype = _bind("archive_entry_filetype", [c_void_p], c_int)
archive_entry_nlink = _bind("archive_entry_nlink", [c_void_p], c_uint)
archive_entry_size = _bind("archive_entry_size", [c_void_p], c_longlong)
archive_entry_size_is_set = _bind("archive_entry_size_is_set", [c_void_p], c_int)
archive_entry_mtime = _bind("archive_entry_mtime", [c_void_p], c_longlong)
archive_entry_mtime_nsec = _bind("archive_entry_mtime_nsec", [c_void_p], c_longlong)
archive_entry_mtime_is_set = _bind("archive_entry_mtime_is_set", [c_void_p], c_int)
archive_entry_is_data_encrypted = _bind("archive_entry_is_data_encrypted", [c_void_p], c_int)
archive_entry_sparse_reset = _bind("archive_entry_sparse_reset", [c_void_p], c_int)
archive_entry_sparse_next = _bind(
    "archive_entry_sparse_next", [c_void_p, POINTER(c_longlong), POINTER(c_longlong)], c_int
)


def sparse_stored(entry: int) -> int | None:
    """The data bytes of a sparse entry (its map's lengths summed); None if not sparse."""
    if archive_entry_sparse_reset(entry) <= 0:
        return None
    offset, length, total = c_longlong(), c_longlong(), 0
    while archive_entry_sparse_next(entry, byref(offset), byref(length)) == 0:
        total += max(0, length.value)
    return total


def support(archive: Any, kind: str, name: str) -> None:
    fn = _bind(f"archive_read_support_{kind}_{name}", [c_void_p], c_int)
    if fn(archive) < ARCHIVE_WARN:
        raise FerrymanError("archive.unsupported", f"libarchive lacks the {name} {kind}")


# --- formats -----------------------------------------------------------------------

SINGLE_FILE_FILTERS = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zstd": "zstd"}
OTHER_FILTERS = frozenset({"compress", "lzip", "lz4", "lzop", "lrzip", "lzma", "uu"})
# Containers libarchive reads besides zip, tar, 7z and RAR (an RPM is a cpio behind its
# own filter and a compression); "sfx": an archive appended to an executable.
OTHER_FORMATS: dict[str, tuple[str, ...]] = {
    "iso9660": ("iso9660",),
    "cab": ("cab",),
    "cpio": ("cpio",),
    "rpm": ("cpio",),
    "lha": ("lha",),
    "xar": ("xar",),
    "sfx": ("zip", "7zip", "rar", "rar5"),
}
# Formats whose encrypted data libarchive decrypts itself.
DECRYPTS = frozenset({"zip"})


def single_file_name(archive_name: str) -> str:
    """The name of the one file inside a compressed non-tar file.

    ``clip.mp4.gz`` -> ``clip.mp4``, ``x.gz`` -> ``x``, ``x.tgz`` -> ``x.tar``; a name
    without a compression suffix is kept as it is. The name stored in a gzip header
    is ignored: it is whatever the sender chose.
    """
    base = archive_name.replace("\\", "/").rsplit("/", 1)[-1]
    inner = inner_name(base)
    return inner if inner is not None else (base or "data")


def libarchive_names(fmt: str, *, rar5: bool, stream: bool) -> tuple[tuple[str, ...], str]:
    """detect_format's answer -> (libarchive formats, libarchive filter)."""
    if fmt == "zip":
        # zip (for files) also enables the seekable reader, which reads the central
        # directory; a stream has only the local headers.
        return (("zip_streamable",) if stream else ("zip",)), "none"
    if fmt == "tar":
        return ("tar",), "none"
    if fmt in SINGLE_FILE_FILTERS:
        return ("tar", "cpio", "iso9660", "raw", "empty"), SINGLE_FILE_FILTERS[fmt]
    if fmt in OTHER_FILTERS:
        # Whatever filters libarchive has (some stack: uuencoded gzip), a tar, a cpio
        # or one file inside.
        return ("tar", "cpio", "iso9660", "raw", "empty"), "all"
    if fmt in OTHER_FORMATS:
        return OTHER_FORMATS[fmt], "all"
    if fmt == "7z":
        return ("7zip",), "none"
    if fmt == "rar":
        return (("rar5",) if rar5 else ("rar",)), "none"
    raise FerrymanError("archive.unsupported", f"format {fmt!r}")


# --- entries ----------------------------------------------------------------------


class StreamSource:
    """Feeds libarchive from a stream: first the sniffed head, then ``readinto1``.

    Kept apart from the reader so the ctypes callback (which libarchive holds) does
    not reference the reader, and an unclosed reader can still be collected.
    """

    def __init__(self, stream: BinaryIO, head: bytes, scan: Rar5Scan | None) -> None:
        self.stream = stream
        self.head: bytes | None = head
        self.scan = scan
        self.position = 0
        self.error: BaseException | None = None
        self._head_buffer = create_string_buffer(head, max(len(head), 1))
        self._buffer = create_string_buffer(INPUT_BLOCK)
        self._readinto = getattr(stream, "readinto1", None) or getattr(stream, "readinto", None)
        self.callback = READ_CALLBACK(self._read)

    def open(self, archive: Any) -> int:
        return int(archive_read_open(archive, None, None, self.callback, None))

    def _read(self, _archive: Any, _context: Any, out: Any) -> int:
        try:
            if self.head is not None:
                n = len(self.head)
                self.head = None
                buf = self._head_buffer
            else:
                buf = self._buffer
                if self._readinto is not None:
                    got = self._readinto(buf)
                    if got is None:
                        raise OSError("the stream is non-blocking and has no data yet")
                    n = int(got)
                else:  # a stream with read() only
                    data = self.stream.read(INPUT_BLOCK)
                    n = len(data)
                    memmove(buf, data, n)
            out[0] = cast(buf, c_void_p).value
            if self.scan is not None and n:
                self.scan.feed(self.position, memoryview(buf)[:n])
            self.position += n
            return n
        except Exception as err:  # reported by LibarchiveReader.stream_error()
            self.error = err
            return ARCHIVE_FATAL
