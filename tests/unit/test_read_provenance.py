"""An entry's provenance, the one thing its staging asks of where it came from: a
table of source entries to ``Streamed``, ``PersonsFile`` or ``MadeHere``
(``engine/read/staging.provenance``), and each staged as its type says."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.archive.reader import EntryInfo, EntryType
from ferryman.engine.read.stage import (
    HASH_LATER_BYTES,
    MadeHere,
    PersonsFile,
    Provenance,
    Streamed,
    Target,
    stage_entry,
)
from ferryman.engine.read.staging import provenance
from ferryman.sources.base import SourceEntry

HERE = Path("/data/in/a.jpg")
SEEN = (10, 123)
DIGEST = "ab" * 32


def _entry(**fields: object) -> SourceEntry:
    info = EntryInfo(0, "a.jpg", 10, None, EntryType.FILE)
    return SourceEntry(info, lambda: iter([b""]), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Streamed()),
        ({"over_network": True}, Streamed(over_network=True)),
        ({"local_file": HERE, "local_seen": SEEN}, PersonsFile(HERE, SEEN)),
        # a link converter's result, hashed by its maker, listed as its folder was
        (
            {"local_file": HERE, "local_seen": SEEN, "local_sha256": DIGEST},
            MadeHere(HERE, DIGEST, PersonsFile(HERE, SEEN)),
        ),
        ({"local_file": HERE, "local_sha256": DIGEST}, MadeHere(HERE, DIGEST)),
        ({"local_file": HERE}, MadeHere(HERE)),
    ],
)
def test_an_entrys_provenance(fields: dict[str, object], expected: Provenance) -> None:
    assert provenance(_entry(**fields)) == expected


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 4092 + os.urandom(5000)


def _blocks(data: bytes) -> Iterator[bytes]:
    for at in range(0, len(data), 1000):
        yield data[at : at + 1000]


def test_a_file_made_here_with_its_hash_is_linked_and_not_read(tmp_path: Path) -> None:
    made = tmp_path / "made.jpg"
    made.write_bytes(JPEG)
    read: list[int] = []

    def blocks() -> Iterator[bytes]:
        for block in _blocks(JPEG):
            read.append(len(block))
            yield block

    dest = tmp_path / "w.jpg"
    staged = stage_entry(blocks(), "w.jpg", Target(dest, lambda k: True), MadeHere(made, DIGEST))
    assert (staged.path, staged.sha256, staged.size) == (dest, DIGEST, len(JPEG))
    assert os.path.samefile(dest, made)
    assert sum(read) < len(JPEG)  # its head only: the maker's hash stands


def test_a_streamed_entry_is_written_and_hashed(tmp_path: Path) -> None:
    dest = tmp_path / "w.jpg"
    staged = stage_entry(_blocks(JPEG), "w.jpg", Target(dest, lambda k: True), Streamed())
    assert staged.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert dest.read_bytes() == JPEG and dest.stat().st_nlink == 1


def test_an_unwanted_entry_over_the_network_is_left_after_its_head(tmp_path: Path) -> None:
    dest = tmp_path / "w.jpg"
    target = Target(dest, lambda k: False)
    staged = stage_entry(
        _blocks(JPEG), "w.jpg", target, Streamed(over_network=True), size=HASH_LATER_BYTES
    )
    assert (staged.path, staged.size, staged.sha256) == (None, HASH_LATER_BYTES, "")
    local = stage_entry(_blocks(JPEG), "w.jpg", target, Streamed(), size=HASH_LATER_BYTES)
    assert (local.size, local.sha256) == (len(JPEG), hashlib.sha256(JPEG).hexdigest())
    assert not dest.exists()
