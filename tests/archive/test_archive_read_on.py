"""A tar libarchive breaks in half-way is read on by 7-Zip, which reads it whole: a job
is never left with an entry a reference reader gives that was not delivered (issue 79,
"done with a file missing"). Archives made by real tools (GNU tar, Python's tarfile,
compress, gzip); 7-Zip and bsdtar are the oracles (``tests.support.archive_corpus``)."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from ferryman.archive.opener import open_archive
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.support.archive_corpus import build_corpus, judge, sevenzip_exe
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store

pytestmark = pytest.mark.skipif(sevenzip_exe() is None, reason="7-Zip (7zz) is not here")


def _photos_with_a_large_pax_header(src: Path, out: Path, compressor: str | None) -> Path:
    """Three photos in a pax tar whose second carries a 2 MB attribute (libarchive 3.6
    refuses a pax header over 1 MiB), through ``compressor`` when given."""
    photos = make_photo_set(src, 3)
    plain = out / "trip.tar"
    with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
        for number, photo in enumerate(photos):
            info = tar.gettarinfo(str(photo), arcname=photo.name)
            if number == 1:
                info.pax_headers = {"comment": "+" * 2_000_000}
            with photo.open("rb") as data:
                tar.addfile(info, data)
    if compressor is None:
        return plain
    if not shutil.which(compressor):
        pytest.skip(f"{compressor} is not installed")
    packed = out / f"trip.tar.{'Z' if compressor == 'compress' else 'gz'}"
    with packed.open("wb") as sink:
        subprocess.run([compressor, "-c", str(plain)], stdout=sink, check=True)
    plain.unlink()
    return packed


@pytest.mark.parametrize("compressor", ["compress", "gzip", None])
def test_a_tar_libarchive_breaks_in_after_its_first_entry_is_read_on_by_7zz(
    tmp_path: Path, compressor: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    archive = _photos_with_a_large_pax_header(tmp_path / "src", tmp_path, compressor)
    photos = sorted((tmp_path / "src").iterdir())
    with open_archive(archive) as reader:
        got = {entry.info.path: b"".join(entry.read_blocks()) for entry in reader}
    assert got == {p.name: p.read_bytes() for p in photos}
    assert not list(temp.glob("ferryman-layer-*"))  # the unpacked tar is gone


def test_a_tar_z_that_7zz_lists_otherwise_keeps_libarchive_s_error(tmp_path: Path) -> None:
    """Where 7-Zip's names before the break are not libarchive's (a sparse entry 7-Zip
    hands out raw), nothing is guessed: the archive stays unreadable, never done."""
    src = tmp_path / "src"
    make_photo_set(src, 2)
    with (src / "disk.img").open("wb") as f:  # a PAX 1.0 sparse file: 7-Zip names it
        f.write(b"x" * 4096)  # GNUSparseFile.0/disk.img, libarchive disk.img
        f.truncate(64 << 20)
    big = src / "photo_000001.jpg"
    plain = tmp_path / "mixed.tar"
    subprocess.run(
        ["tar", "-cSf", str(plain), "--format=posix", "--sparse-version=1.0", "-C", str(src),
         "disk.img", "photo_000000.jpg"],
        check=True,
    )  # fmt: skip
    with tarfile.open(plain, "a", format=tarfile.PAX_FORMAT) as tar:
        info = tar.gettarinfo(str(big), arcname=big.name)
        info.pax_headers = {"comment": "+" * 2_000_000}
        with big.open("rb") as data:
            tar.addfile(info, data)
    names = []
    with pytest.raises(FerrymanError) as failed, open_archive(plain) as reader:
        for entry in reader:
            names.append(entry.info.path)
            b"".join(entry.read_blocks())
    assert failed.value.code == "archive.unreadable"
    assert names == ["disk.img", "photo_000000.jpg"]


def test_every_large_pax_and_sparse_tar_z_sample_is_delivered(tmp_path: Path) -> None:
    """The corpus's samples of the kind, judged against bsdtar or 7-Zip."""
    if not shutil.which("bsdtar"):
        pytest.skip("bsdtar (libarchive-tools) is not installed: no oracle")
    samples = [
        s
        for s in build_corpus(tmp_path / "corpus", ("largepax", "gnutar"))
        if "pax-large" in s.path.name or s.path.name.startswith("gnutar-sparse")
    ]
    assert len(samples) >= 6
    outcomes = [judge(s, tmp_path) for s in samples]
    assert [o.describe() for o in outcomes if not o.byte_for_byte] == []


async def test_a_job_of_such_a_tar_z_delivers_every_photo(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    archive = _photos_with_a_large_pax_header(tmp_path / "src", tmp_path, "compress")
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)
    ended = await store.get_job(job.id)
    assert ended.state is JobState.DONE, ended.error_message
    delivered = {f["disk_sha256"] for f in library_files(settings.library)}
    assert {sha256(p) for p in (tmp_path / "src").iterdir()} <= delivered
