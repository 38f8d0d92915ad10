"""Resuming an entry from its middle, piece by piece: the zip backend's ``Resumable`` (a
stored entry read on from an offset, its CRC-32 carried over and checked; a deflated
one not resumable) and the record beside a kept part (``engine/read/resume.py``: what
it vouches for, torn parts cut to what is there). The whole, with a real server and
real kills: tests/crash/test_zip_entry_resume.py."""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from pathlib import Path

import pytest

from ferryman.archive.reader import OpenOptions, ReadAgain
from ferryman.archive.zipfile_backend import ZipfileReader
from ferryman.engine.read.resume import Resume, keeps, pack, unpack
from ferryman.errors import FerrymanError
from ferryman.net import abort

KEY = "zip:0:100:deadbeef:a.jpg"


def _zip() -> tuple[bytes, bytes]:
    """A zip (Python's zipfile) of a stored entry and a deflated one; the stored bytes."""
    data = random.Random(7).randbytes(300_000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("kept.bin", data, zipfile.ZIP_STORED)
        zf.writestr("packed.txt", b"words " * 50_000, zipfile.ZIP_DEFLATED)
    return out.getvalue(), data


def test_a_stored_entry_is_read_on_from_an_offset_its_crc_carried_over() -> None:
    raw, data = _zip()
    with ZipfileReader(io.BytesIO(raw), "t.zip", OpenOptions()) as reader:
        stored, packed = list(reader)
        resumable = stored.resumable()  # type: ignore[attr-defined]
        assert resumable is not None
        assert packed.resumable() is None  # type: ignore[attr-defined]
        at = 123_457
        rest = b"".join(resumable.rest(at, zlib.crc32(data[:at])))
        assert rest == data[at:]


def test_a_prefix_that_is_not_the_entrys_is_read_again_from_the_first_byte() -> None:
    raw, data = _zip()
    with ZipfileReader(io.BytesIO(raw), "t.zip", OpenOptions()) as reader:
        stored = next(iter(reader))
        resumable = stored.resumable()  # type: ignore[attr-defined]
        wrong = bytearray(data[:1000])
        wrong[10] ^= 1
        with pytest.raises(ReadAgain) as raised:
            b"".join(resumable.rest(1000, zlib.crc32(wrong)))
        assert raised.value.code == "archive.entry_corrupt"
        assert b"".join(raised.value.again()) == data
        with pytest.raises(ReadAgain):  # more kept than the entry holds
            b"".join(resumable.rest(len(data) + 1, 0))


def test_a_record_vouches_for_its_own_entry_only_and_a_torn_one_for_nothing() -> None:
    record = pack(KEY, 4096)
    assert unpack(record, KEY) == 4096
    assert unpack(record, "zip:0:100:deadbeef:b.jpg") is None
    torn = bytearray(record)
    torn[-6] ^= 0x40
    assert unpack(bytes(torn), KEY) is None
    assert unpack(record[:20], KEY) is None


def _left(tmp_path: Path, part_bytes: int, recorded: int) -> tuple[Path, Path]:
    dest = tmp_path / "000000-a.jpg"
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(bytes(range(256)) * (part_bytes // 256))
    part.with_name(part.name + ".resume").write_bytes(pack(KEY, recorded))
    return dest, part


def test_bytes_past_the_recorded_length_are_cut_off(tmp_path: Path) -> None:
    dest, part = _left(tmp_path, 8192, 4096)
    assert Resume.taken_up(part, dest, KEY).kept == 4096
    assert part.stat().st_size == 4096


def test_a_part_shorter_than_its_record_is_taken_as_far_as_it_goes(tmp_path: Path) -> None:
    dest, part = _left(tmp_path, 2048, 4096)
    resume = Resume.taken_up(part, dest, KEY)
    assert resume.kept == 2048
    resume.begin()  # the record says what is real before a byte is added
    resume.failed(abort.Aborted())
    assert unpack(resume.record.read_bytes(), KEY) == 2048


def test_no_record_or_another_entrys_keeps_nothing(tmp_path: Path) -> None:
    dest, part = _left(tmp_path, 4096, 4096)
    assert Resume.taken_up(part, dest, "zip:0:100:deadbeef:b.jpg").kept == 0
    part.with_name(part.name + ".resume").unlink()
    assert Resume.taken_up(part, dest, KEY).kept == 0


def test_a_file_staged_whole_but_not_recorded_is_taken_back(tmp_path: Path) -> None:
    dest, part = _left(tmp_path, 4096, 4096)
    part.rename(dest)
    resume = Resume.taken_up(part, dest, KEY)
    assert resume.kept == 4096
    assert part.exists() and not dest.exists()


def test_a_part_is_kept_after_a_stop_and_dropped_after_a_data_error(tmp_path: Path) -> None:
    assert keeps(abort.Aborted())
    assert keeps(FerrymanError("source.io", "cut"))
    assert not keeps(FerrymanError("archive.entry_corrupt", "crc"))
    assert not keeps(FerrymanError("space.low", "full"))
    dest, part = _left(tmp_path, 4096, 4096)
    resume = Resume.taken_up(part, dest, KEY)
    resume.failed(FerrymanError("archive.entry_corrupt", "crc"))
    assert not part.exists() and not resume.record.exists()
