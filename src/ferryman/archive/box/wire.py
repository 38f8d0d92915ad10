"""The wire between the boxed libarchive reader (``archive.box.reader``) and its child
(``archive.box.child``): frames of a kind, a length and the packed bytes read so far.

The child decodes untrusted bytes, so the engine trusts nothing it says: no pickle
(a child taken over by a decoder bug could make the engine run code), only JSON and
raw blocks, each frame's length capped, each field checked (``decode_info``,
``decode_error``); anything else counts as the child failing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ferryman.archive.reader import (
    ArchiveLimits,
    CandidateMayBeWrong,
    EntryInfo,
    EntryType,
    OpenOptions,
)
from ferryman.errors import ERRORS, FerrymanError

# kind (1 byte), payload length, packed bytes consumed so far (libarchive's count)
HEADER = struct.Struct("<cIq")
MAX_PAYLOAD = 2 << 20  # a block is 1 MiB; a header's JSON far less

# child -> engine
OPENED = b"O"  # the archive opened; entries follow
ENTRY = b"H"  # an entry's header (JSON), then its bytes: BLOCKs, then END or ERROR
BLOCK = b"B"  # a block of the current entry's bytes
END = b"E"  # the current entry's bytes ended whole (or were aborted)
ERROR = b"X"  # a FerrymanError (JSON): the entry's after its header, else the archive's
DONE = b"D"  # no more entries
KINDS = frozenset({OPENED, ENTRY, BLOCK, END, ERROR, DONE})

# engine -> child: stop sending entry N's bytes. The child sends every entry's bytes
# without being asked (a question per entry would cost two process switches, which a
# loaded phone makes slow), checking between blocks for an ABORT of the entry it sends;
# an ABORT of an entry already sent is stale and ignored.
COMMAND = struct.Struct("<cI")
ABORT = b"A"
# engine -> child, between archives: read this one (COMMAND with the JSON's length).
# A child is kept for a job's next archive (``box.reader.BoxPool``): a fork per archive
# made the engine copy its pages again for each (24 ms of CPU per small zip).
REQUEST = b"Q"


@dataclass(frozen=True, slots=True)
class Request:
    """One archive for the child: what to open, and its budget (CPU seconds from now,
    address space in bytes beyond what the child has mapped, None: unlimited). With
    ``stream``, the archive is the bytes of the child's input pipe (``box.stream``),
    ``path`` only names it and ``fmt`` is sniffed there."""

    path: Path
    fmt: str
    options: OpenOptions
    cpu_seconds: int
    address_space: int | None
    stream: bool = False


def encode_request(request: Request) -> bytes:
    options = request.options
    fields = [os.fsencode(request.path).hex(), request.fmt, list(options.passwords)]
    budget = [request.cpu_seconds, request.address_space]
    limits = dataclasses.asdict(options.limits)
    payload = json.dumps([*fields, *budget, limits, request.stream]).encode()
    return COMMAND.pack(REQUEST, len(payload)) + payload


def decode_request(payload: bytes) -> Request:
    """The engine's request (trusted: the engine wrote it)."""
    path, fmt, passwords, cpu_seconds, address_space, limits, stream = json.loads(payload)
    options = OpenOptions(passwords=tuple(passwords), limits=ArchiveLimits(**limits))
    where = Path(os.fsdecode(bytes.fromhex(path)))
    return Request(where, fmt, options, int(cpu_seconds), address_space, bool(stream))


DECODER_FAILED = "archive.decoder_failed"
# The codes a child may report: an archive's or an entry's fault, or its input's. A
# code that would make a job wait or retry (space.low, a server's wait) is not its to give.
_CHILD_CODES = ("archive.", "source.io", "source.not_found", "source.unreadable", "source.empty")
_MAX_MESSAGE = 2000


def write_frame(fd: int, kind: bytes, consumed: int, payload: bytes | memoryview = b"") -> None:
    """Write one frame whole (``os.write`` may take part of it)."""
    _write_all(fd, HEADER.pack(kind, len(payload), consumed))
    if payload:
        _write_all(fd, payload)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def encode_info(info: EntryInfo) -> bytes:
    fields = [info.index, info.path, info.size, info.mtime, info.type.value, info.stored]
    return json.dumps(fields).encode()


def decode_info(payload: bytes) -> EntryInfo:
    """An entry's header as the child sent it; ``ValueError`` when it is not one."""
    index, path, size, mtime, kind, stored = json.loads(payload)
    if not (
        _is_int(index)
        and isinstance(path, str)
        and (size is None or _is_int(size))
        and (mtime is None or isinstance(mtime, int | float))
        and (stored is None or _is_int(stored))
    ):
        raise ValueError("an entry header with fields of the wrong type")
    return EntryInfo(index, path, size, mtime, EntryType(kind), stored)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_error(exc: FerrymanError) -> bytes:
    candidate = isinstance(exc, CandidateMayBeWrong)
    return json.dumps([exc.code, exc.message[:_MAX_MESSAGE], candidate]).encode()


def decode_error(payload: bytes, name: str) -> FerrymanError:
    """The child's error, as the engine believes it: a code it may give, else
    "archive.decoder_failed"."""
    try:
        code, message, candidate = json.loads(payload)
        if not (isinstance(code, str) and isinstance(message, str)):
            raise ValueError("an error with fields of the wrong type")
    except ValueError:
        return FerrymanError(DECODER_FAILED, f"{name}: libarchive's process sent a bad error")
    message = message[:_MAX_MESSAGE]
    if code not in ERRORS or not code.startswith(_CHILD_CODES):
        return FerrymanError(DECODER_FAILED, f"{name}: libarchive's process failed: {message}")
    if candidate is True:
        return CandidateMayBeWrong(code, message)
    return FerrymanError(code, message)
