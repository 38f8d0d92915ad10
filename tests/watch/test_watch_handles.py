"""A watched folder's files read by handle (issue 78, "files by handle"): the race
between a watch's look and its read is forced, not hoped for. The look lists a real
photo; before the job reads it, the name is swapped for a symlink to a file outside the
folder (the data folder's ``web.secret``, a private photo) or a folder on the way is
swapped for a link. The real engine, the real folder lister, the library sink."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.read.stage import PersonsFile, Target, stage_entry
from ferryman.fsutil import open_below, open_folder
from ferryman.samples import make_photo
from ferryman.sources.file import FileSource
from ferryman.sources.listers.folder import FolderLister
from ferryman.sources.local import iter_local
from ferryman.sources.local_path import below_of
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.watch.test_watch_folder import _photo, _watch_all

__all__ = ["memory_store"]


def _swap_after_listing(
    monkeypatch: pytest.MonkeyPatch, swap: dict[str, Path], *, once: bool = True
) -> None:
    """The seam: the folder lister's look runs as it is, then each name in ``swap``
    becomes a symlink to its target, before any job reads it."""
    listed = FolderLister.list_now
    done: list[bool] = []

    def list_then_swap(self: FolderLister, source: str, settings: Settings) -> list:  # type: ignore[type-arg]
        found = listed(self, source, settings)
        if not (once and done):
            for name, target in swap.items():
                path = Path(source) / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                os.symlink(target, path)
            done.append(True)
        return found

    monkeypatch.setattr(FolderLister, "list_now", list_then_swap)


def _all_bytes(folder: Path) -> list[bytes]:
    """Every file's bytes under ``folder`` (links not followed)."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found.append(path.read_bytes())
    return found


async def test_a_file_swapped_for_a_link_after_the_look_is_refused_not_followed(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "Drop"
    kept = _photo(root / "IMG_2.jpg", 2)
    _photo(root / "IMG_1.jpg", 1)
    private = tmp_path / "admin" / "private.jpg"  # another person's photo, outside
    secret_photo = _photo(private, 9)
    _swap_after_listing(monkeypatch, {"IMG_1.jpg": private})
    watch = await _watch_all(store, root)
    await run_until_idle(store, settings)

    delivered = sorted(f["disk_sha256"] for f in library_files(settings.library))
    assert delivered == [kept]  # the private photo never reached the library
    assert secret_photo not in delivered
    for folder in (settings.library, settings.work_dir, settings.results_dir):
        if folder.exists():
            assert private.read_bytes() not in _all_bytes(folder)
    (job,) = [j for j in await store.list_jobs() if j.source.startswith("batch:")]
    failed = [(i.source_path, i.error_code) for i in await store.job_items(job.id) if i.error_code]
    assert failed == [("IMG_1.jpg", "source.symlink_refused")]
    assert watch.id


async def test_a_folder_swapped_for_a_link_after_the_look_is_not_walked_through(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "Drop"
    _photo(root / "2026" / "IMG_1.jpg", 1)
    elsewhere = tmp_path / "admin"
    secret = _photo(elsewhere / "IMG_1.jpg", 9)  # the same name, behind the link
    _swap_after_listing(monkeypatch, {"2026": elsewhere})
    await _watch_all(store, root)
    await run_until_idle(store, settings)

    assert secret not in [f["disk_sha256"] for f in library_files(settings.library)]
    (job,) = [j for j in await store.list_jobs() if j.source.startswith("batch:")]
    codes = [i.error_code for i in await store.job_items(job.id)]
    assert codes == ["source.symlink_refused"]


def test_the_data_folder_s_secret_behind_a_swapped_name_is_never_read(
    settings: Settings, tmp_path: Path
) -> None:
    """The case of the issue: a listed file becomes a link to ``web.secret``; what the
    job reads of it is a coded refusal, never a byte of the secret."""
    root = tmp_path / "Drop"
    _photo(root / "IMG_1.jpg", 1)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = settings.data_dir / "web.secret"
    secret.write_bytes(b"s3cr3t-signing-key" * 4)
    (entry,) = FolderLister().list_now(str(root), settings)
    (root / "IMG_1.jpg").unlink()
    os.symlink(secret, root / "IMG_1.jpg")

    source = FileSource()
    with pytest.raises(Exception) as raised, source.open(entry.input, _options()) as entries:
        list(entries)
    assert getattr(raised.value, "code", None) == "source.symlink_refused"


def test_a_folder_replaced_after_the_look_is_not_read(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "Drop"
    _photo(root / "IMG_1.jpg", 1)
    (entry,) = FolderLister().list_now(str(root), settings)
    os.rename(root, tmp_path / "Drop.old")
    _photo(root / "IMG_1.jpg", 9)  # a folder of the same name, made since

    with (
        pytest.raises(Exception) as raised,
        FileSource().open(entry.input, _options()) as entries,
    ):
        list(entries)
    assert getattr(raised.value, "code", None) == "source.folder_changed"
    assert below_of(entry.input) is not None


def test_a_watched_folder_that_now_leads_outside_watch_folders_is_not_looked_at(
    settings: Settings, tmp_path: Path
) -> None:
    allowed = tmp_path / "shared"
    outside = tmp_path / "admin"
    _photo(outside / "IMG_1.jpg", 9)
    (allowed / "alice").mkdir(parents=True)
    _photo(allowed / "alice" / "IMG_1.jpg", 1)
    ruled = settings.model_copy(
        update={"watch": settings.watch.model_copy(update={"folders": [str(allowed)]})}
    )
    assert len(FolderLister().list_now(str(allowed / "alice"), ruled)) == 1
    shutil.rmtree(allowed / "alice")
    os.symlink(outside, allowed / "alice")  # the watched folder swapped for a link
    with pytest.raises(Exception) as raised:
        FolderLister().list_now(str(allowed / "alice"), ruled)
    assert getattr(raised.value, "code", None) == "watch.folder_not_allowed"


def test_a_person_s_file_is_staged_from_its_handle_when_its_name_is_swapped(
    tmp_path: Path,
) -> None:
    """Staging's link of a person's file is checked to be the opened inode: the name
    swapped between the open and the link gives a copy of the handle's bytes."""
    root = tmp_path / "in"
    root.mkdir()
    make_photo(root / "a.jpg", 1)
    mine = (root / "a.jpg").read_bytes()
    other = tmp_path / "other.jpg"
    make_photo(other, 2)
    fd = open_folder(root)
    try:
        held = open_below(fd, "a.jpg", root / "a.jpg")
    finally:
        os.close(fd)
    os.rename(root / "a.jpg", tmp_path / "moved.jpg")
    os.symlink(other, root / "a.jpg")  # swapped after the open, before staging
    dest = tmp_path / "work" / "000000-a.jpg"
    dest.parent.mkdir()
    seen = (held.st.st_size, held.st.st_mtime_ns)
    staged = stage_entry(
        held.blocks(1 << 16),
        "a.jpg",
        Target(dest, lambda kind: True),
        PersonsFile(root / "a.jpg", seen, held),
    )
    assert dest.read_bytes() == mine and not dest.is_symlink()
    assert staged.sha256 == hashlib.sha256(mine).hexdigest()
    held.close()


def test_a_folder_input_reads_the_file_it_listed_whatever_its_name_becomes(
    tmp_path: Path,
) -> None:
    """``ferryman add FOLDER``: a file swapped for a link between the walk and the read
    is read as it was when it was listed (its handle), never the link's target."""
    folder = tmp_path / "album"
    make_photo(folder / "a.jpg", 1)
    make_photo(folder / "b.jpg", 2)
    listed = {name: sha256(folder / name) for name in ("a.jpg", "b.jpg")}
    private = tmp_path / "private.jpg"
    make_photo(private, 9)
    read: dict[str, str] = {}
    with iter_local(folder) as entries:
        for entry in entries:
            name = entry.info.path
            os.rename(folder / name, tmp_path / f"moved-{name}")
            os.symlink(private, folder / name)  # swapped once listed, before the read
            read[name] = hashlib.sha256(b"".join(entry.read_blocks())).hexdigest()
    assert read == listed
    assert sha256(private) not in read.values()


def _options():  # type: ignore[no-untyped-def]
    from ferryman.sources.base import ReadOptions

    return ReadOptions()


def test_results_serve_and_zip_only_files_inside_their_job_s_folder(tmp_path: Path) -> None:
    """A job's results folder holding a link to the data folder's secret (or an album
    folder that became a link): it is neither listed, zipped nor served."""
    import io
    import json
    import zipfile

    from ferryman.errors import FerrymanError
    from ferryman.web.results import LocalResults

    data = tmp_path / "data"
    data.mkdir()
    secret = data / "web.secret"
    secret.write_bytes(b"s3cr3t-signing-key" * 4)
    results = LocalResults(data / "results")
    album = results.root / "job-3" / "0001"
    album.mkdir(parents=True)
    (album / "a.jpg").write_bytes(b"photo" * 100)
    os.symlink(secret, album / "b.jpg")
    items = [{"file": name, "parts": None} for name in ("a.jpg", "b.jpg")]
    (album / "manifest.json").write_text(json.dumps({"items": items}))

    files = results.files_now(3)
    assert [f.path for f in files] == ["0001/a.jpg"]
    zipped = b"".join(results.zip_stream(3, files))
    assert secret.read_bytes() not in zipped
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["a.jpg"]
    for path in ("0001/b.jpg", "../web.secret", "../../web.secret"):
        with pytest.raises(FerrymanError) as refused:
            results.locate_now(3, path)
        assert refused.value.code == "link.gone"

    elsewhere = tmp_path / "elsewhere"  # the album folder swapped for a link once listed
    elsewhere.mkdir()
    (elsewhere / "a.jpg").write_bytes(secret.read_bytes())
    shutil.rmtree(album)
    os.symlink(elsewhere, album)
    with pytest.raises(FerrymanError) as gone:
        b"".join(results.zip_stream(3, files))
    assert gone.value.code == "link.gone"


def test_the_data_folder_is_never_watched_nor_walked_into(
    settings: Settings, tmp_path: Path
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "work").mkdir(exist_ok=True)
    make_photo(settings.data_dir / "work" / "IMG_1.jpg", 1)
    for inside in (settings.data_dir, settings.data_dir / "work"):
        with pytest.raises(Exception) as refused:
            FolderLister().list_now(str(inside), settings)
        assert getattr(refused.value, "code", None) == "watch.folder_not_allowed"
        with pytest.raises(Exception) as placed:
            FolderLister().placed(str(inside), settings, remote=False)
        assert getattr(placed.value, "code", None) == "watch.folder_not_allowed"
    above = settings.data_dir.parent  # a folder holding the data folder: walked around it
    make_photo(above / "mine.jpg", 2)
    listed = [e.title for e in FolderLister().list_now(str(above), settings)]
    assert "mine.jpg" in listed
    assert not [t for t in listed if "IMG_1" in t]


def test_a_watched_archive_is_read_and_one_swapped_for_a_link_refused(
    settings: Settings, tmp_path: Path
) -> None:
    import zipfile

    root = tmp_path / "Drop"
    root.mkdir()
    make_photo(tmp_path / "inner.jpg", 1)
    with zipfile.ZipFile(root / "shots.zip", "w") as archive:
        archive.write(tmp_path / "inner.jpg", "inner.jpg")
    with zipfile.ZipFile(tmp_path / "private.zip", "w") as archive:
        archive.write(tmp_path / "inner.jpg", "private.jpg")
    (entry,) = FolderLister().list_now(str(root), settings)
    with FileSource().open(entry.input, _options()) as entries:
        read = [(e.info.path, b"".join(e.read_blocks())) for e in entries]
    assert read == [("shots.zip/inner.jpg", (tmp_path / "inner.jpg").read_bytes())]

    (root / "shots.zip").unlink()
    os.symlink(tmp_path / "private.zip", root / "shots.zip")
    with pytest.raises(Exception) as refused, FileSource().open(entry.input, _options()) as found:
        list(found)
    assert getattr(refused.value, "code", None) == "source.symlink_refused"


def test_a_download_serves_the_file_it_opened_whatever_its_name_becomes(
    tmp_path: Path,
) -> None:
    """``/d/``: the file is opened inside the job's folder, then served by a name that
    reopens that handle (``Held.reopened``): the name swapped for a link to the secret
    between the open and the send serves the job's own bytes."""
    from ferryman.web.results import LocalResults

    secret = tmp_path / "web.secret"
    secret.write_bytes(b"s3cr3t-signing-key" * 4)
    results = LocalResults(tmp_path / "results")
    album = results.root / "job-3" / "0001"
    album.mkdir(parents=True)
    (album / "a.jpg").write_bytes(b"photo" * 100)
    held = results.open_now(3, "0001/a.jpg")
    try:
        os.rename(album / "a.jpg", tmp_path / "moved.jpg")
        os.symlink(secret, album / "a.jpg")  # swapped between the open and the send
        assert held.reopened().read_bytes() == b"photo" * 100
        assert held.path.name == "a.jpg"
    finally:
        held.close()
