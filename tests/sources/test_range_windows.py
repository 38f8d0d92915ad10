"""A zip read in place through bounded windows (``net.rangewindows``), against the fault
server: every GET ends where an entry ends (or a next entry's head), a reader stopped
between entries was sent no more than the next entry, an entry skipped leaves its head
alone, and a window cut mid-way goes on where it was cut (issue 83)."""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from ferryman.archive.reader import OpenOptions
from ferryman.archive.zipfile_backend import ZipfileReader
from ferryman.config import Retry
from ferryman.net import rangewindows
from ferryman.net.rangefile import READ_AHEAD, RangeFile
from tests.support.httpserve import Faults, FaultServer, serving

_RETRY = Retry(max_attempts=3, base_seconds=0.01, max_seconds=0.1, jitter=0)
_ENTRY = 300_000
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """The read-ahead held at its least (64 KiB): on loopback a reader's pace and an
    answer's wait vary, and the bounds below are the read-ahead's."""
    monkeypatch.setattr(rangewindows, "AHEAD_MOST", rangewindows.AHEAD_LEAST)
    with serving() as fault_server:
        yield fault_server


_AHEAD = rangewindows.AHEAD_LEAST + rangewindows.PEEK  # what may be asked past the reader


def _zip(count: int) -> tuple[bytes, list[bytes]]:
    rng = random.Random(count)
    members = [rng.randbytes(_ENTRY) for _ in range(count)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for number, member in enumerate(members):
            zf.writestr(f"f{number:02d}.bin", member)
    return out.getvalue(), members


def _ends(data: bytes) -> list[int]:
    """Each entry's extent's end: the next local header, the central directory last."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        starts = [info.header_offset for info in zf.infolist()]
        return [*starts[1:], zf.start_dir]


def _read(server: FaultServer, data: bytes, read: set[int] | None = None) -> list[bytes]:
    """The entries of ``/z.zip`` read in place as the engine reads them (those in
    ``read``; the others passed over unread); the reader closed after the last."""
    url = server.url("/z.zip")
    etag = server.resources["/z.zip"].etag
    got = []
    with httpx.Client(timeout=10) as client:
        remote = RangeFile(client, url, len(data), etag, _RETRY)
        with (
            io.BufferedReader(remote, READ_AHEAD) as buffered,
            ZipfileReader(buffered, "z.zip", OpenOptions(), tell=remote.want) as reader,
        ):
            for entry in reader:
                if read is None or entry.info.index in read:
                    got.append(b"".join(entry.read_blocks()))
                if read is not None and entry.info.index >= max(read):
                    break
    return got


def _ranges(server: FaultServer) -> list[tuple[int, int | None]]:
    found = []
    for request in server.requests_for("/z.zip"):
        match = _RANGE.fullmatch(request.headers.get("Range", ""))
        if match:
            found.append((int(match[1]), int(match[2]) if match[2] else None))
    return found


def test_every_get_ends_where_an_entry_ends_and_nothing_is_sent_twice(
    server: FaultServer,
) -> None:
    data, members = _zip(12)
    server.add("/z.zip", data)
    assert _read(server, data) == members
    ends = _ends(data)
    directory = len(data) - ends[-1]
    for start, end in _ranges(server):
        assert end is not None, "a GET of the rest of the file"
        if start < ends[-1]:  # an entry's window (the rest reads the central directory)
            following = min(e for e in ends if e > start)
            assert end + 1 <= following, (start, end)  # within one entry's extent
    # the central directory was read (a few times, by range); each entry's bytes once
    assert server.served["/z.zip"] <= len(data) + 4 * directory
    assert len(_ranges(server)) <= len(data) // rangewindows.AHEAD_LEAST + 2 * len(members) + 6


def test_a_reader_stopped_between_entries_was_sent_at_most_the_next_one(
    server: FaultServer,
) -> None:
    """What a kill after entry 4 costs: the read-ahead, not the rest of the file, which
    a GET to the end let the kernel's buffers take in."""
    data, members = _zip(20)
    server.add("/z.zip", data)
    assert _read(server, data, read={0, 1, 2, 3, 4}) == members[:5]
    ends = _ends(data)
    directory = len(data) - ends[-1]
    assert server.served["/z.zip"] <= ends[4] + _AHEAD + 4 * directory


def test_an_entry_passed_over_is_not_read_and_the_next_one_is_whole(
    server: FaultServer,
) -> None:
    """An entry the engine does not read (recorded before a restart) costs at most the
    read-ahead past the one read before it; the one read after it is asked for where
    it starts."""
    data, members = _zip(10)
    server.add("/z.zip", data)
    assert _read(server, data, read={0, 3, 7}) == [members[0], members[3], members[7]]
    ends = _ends(data)
    starts = [0, *ends[:-1]]
    for start, _ in _ranges(server):
        for skipped in (1, 2, 4, 5, 6):
            if starts[skipped] <= start < ends[skipped]:
                assert skipped in (1, 4), start  # only just past one read
                assert start < starts[skipped] + _AHEAD, start
    read = sum(ends[i] - starts[i] for i in (0, 3, 7))
    assert server.served["/z.zip"] <= read + 2 * _AHEAD + 4 * (len(data) - ends[-1])


def test_a_window_cut_mid_way_goes_on_where_it_was_cut(server: FaultServer) -> None:
    data, members = _zip(6)
    server.add("/z.zip", data)
    server.resources["/z.zip"].faults = Faults(cut_at=_ENTRY * 2 + 12_345, cut_times=2)
    assert _read(server, data) == members
