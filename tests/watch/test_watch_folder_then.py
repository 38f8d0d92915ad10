"""A folder watch's ``--then``: a file is moved or deleted only once its job has
delivered it whole (at a look after the job ended), never before, never when its job
failed or quarantined a file, never when it changed since; and adding such a watch
from each front door: the CLI any folder, the API and the chat only under
``watch.folders``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ferryman.config import Settings
from ferryman.engine.ops.report import report
from ferryman.engine.ops.watch_admin import NewWatch, add_watch
from ferryman.engine.plumbing.events import EventBus
from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo
from ferryman.sources.listers.folder import FolderLister
from ferryman.store import Store
from ferryman.web.server import web_app
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

OLD = time.time() - 3600


def _photo(path: Path, seed: int) -> str:
    make_photo(path, seed)
    os.utime(path, (OLD, OLD))
    return sha256(path)


def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))  # a JPEG's start, then noise
    os.utime(path, (OLD, OLD))


def _polled(settings: Settings) -> Settings:
    """No change notices: an engine's looks are only those the test makes due."""
    watch = settings.watch.model_copy(update={"folder_events": False})
    return settings.model_copy(update={"watch": watch})


async def _look(store: Store, settings: Settings, watch_id: int) -> None:
    await store.set_watch_paused(watch_id, False)  # due now
    await run_until_idle(store, settings)


async def test_a_file_is_moved_once_its_job_delivered_it_and_not_before(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = _polled(settings)
    root, kept = tmp_path / "Camera", tmp_path / "Backed up"
    shot = _photo(root / "sub" / "IMG_1.jpg", 1)
    watch = await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery=f"move:{kept}",
    )  # fmt: skip
    await run_until_idle(store, settings)
    [job] = await store.list_jobs()
    assert job.state.value == "done" and [
        f["disk_sha256"] for f in library_files(settings.library)
    ] == [shot]
    assert (root / "sub" / "IMG_1.jpg").exists()  # the look that made the job came first

    await _look(store, settings, watch.id)  # its job has ended: the file goes
    assert not (root / "sub" / "IMG_1.jpg").exists()
    assert sha256(kept / "sub" / "IMG_1.jpg") == shot
    await _look(store, settings, watch.id)
    assert len(await store.list_jobs()) == 1  # moved out of the tree: nothing new


async def test_a_job_not_delivered_whole_leaves_its_files(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = _polled(settings)
    root = tmp_path / "Camera"
    _photo(root / "good.jpg", 1)
    _garbage(root / "broken.jpg")
    watch = await store.add_watch(  # a download link quarantines what it cannot decode
        kind="folder", source=str(root), dest="link:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery="delete",
    )  # fmt: skip
    await run_until_idle(store, settings)
    await _look(store, settings, watch.id)
    [job] = await store.list_jobs()
    assert job.state.value == "done"  # done, with a file that is no photo
    assert (root / "good.jpg").exists() and (root / "broken.jpg").exists()

    _photo(root / "later.jpg", 2)
    await _look(store, settings, watch.id)  # a job of its own, delivered whole
    assert (root / "later.jpg").exists()
    await _look(store, settings, watch.id)
    assert not (root / "later.jpg").exists()
    assert (root / "good.jpg").exists() and (root / "broken.jpg").exists()
    assert len(await store.list_jobs()) == 2


@pytest.mark.parametrize("then", ["delete", "move"])
async def test_a_photo_no_decoder_reads_goes_to_the_library_as_it_is_then_goes(
    store: Store, settings: Settings, tmp_path: Path, then: str
) -> None:
    """A library decodes nothing: a damaged JPEG is kept there byte for byte (the report
    says it was not decoded, and why), not quarantined; so its job is delivered whole,
    and ``--then`` lets it go only once the library holds its very bytes."""
    settings = _polled(settings)
    root, kept = tmp_path / "Camera", tmp_path / "Backed up"
    shot = _photo(root / "good.jpg", 1)
    _garbage(root / "broken.jpg")
    broken = sha256(root / "broken.jpg")
    action = "delete" if then == "delete" else f"move:{kept}"
    watch = await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery=action,
    )  # fmt: skip
    await run_until_idle(store, settings)
    [job] = await store.list_jobs()
    assert job.state.value == "done" and job.error_code is None
    placed = {Path(f["path"]).name: f["disk_sha256"] for f in library_files(settings.library)}
    assert placed == {"good.jpg": shot, "broken.jpg": broken}
    items = {i["path"]: i for i in (await report(store, job.id))["items"]}
    assert (items["broken.jpg"]["plan"], items["broken.jpg"]["state"]) == ("document", "delivered")
    assert items["broken.jpg"]["reason"].startswith("media.unreadable: ")
    assert not list(settings.quarantine_dir.rglob("broken.jpg"))

    await _look(store, settings, watch.id)  # its job delivered it whole: both go
    assert sorted(os.listdir(root)) == []
    if then == "move":
        assert {p.name: sha256(p) for p in kept.iterdir()} == {
            "good.jpg": shot,
            "broken.jpg": broken,
        }
    assert len(await store.list_jobs()) == 1


def test_a_file_changed_since_it_was_listed_is_left(settings: Settings, tmp_path: Path) -> None:
    """The key is read again just before the delete or the move: content written in
    between (an edit saved as the look acts) is not what was delivered."""
    root = tmp_path / "Camera"
    _photo(root / "IMG_1.jpg", 1)
    lister = FolderLister()
    [entry] = lister.list_now(str(root), settings)
    _photo(root / "IMG_1.jpg", 2)
    assert lister.after_delivery(str(root), entry, "delete") is None
    assert (root / "IMG_1.jpg").exists()
    [now] = lister.list_now(str(root), settings)
    assert lister.after_delivery(str(root), now, f"move:{tmp_path / 'kept'}") is not None
    assert (tmp_path / "kept" / "IMG_1.jpg").exists() and not (root / "IMG_1.jpg").exists()


async def test_each_front_door_adds_a_folder_watch_and_from_afar_only_a_listed_one(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "DCIM" / "Camera"
    root.mkdir(parents=True)
    here = NewWatch(source=f"{root}/../Camera", to="library:", remote=False, then="delete")
    watch, shown = await add_watch(store, settings, here)
    assert (watch.kind, watch.source, watch.after_delivery) == ("folder", str(root), "delete")
    assert shown == str(root)

    def asked(**given: object) -> NewWatch:
        return NewWatch(**{"source": str(root), "to": "library:", "remote": False, **given})  # type: ignore[arg-type]

    for refused_one, code in (
        (asked(remote=True), "watch.folder_not_allowed"),
        (asked(source=str(tmp_path / "none")), "watch.not_a_folder"),
        (asked(then=f"move:{root / 'x'}"), "watch.bad_then"),
        (asked(then="keep"), "watch.bad_then"),
        (asked(source="https://example.org/f.xml", kind="feed", then="delete"), "watch.bad_then"),
        (asked(audio="mp3"), "link.output_for_file"),
    ):
        with pytest.raises(FerrymanError) as refused:
            await add_watch(store, settings, refused_one)
        assert refused.value.code == code, refused_one
    listed = settings.model_copy(
        update={"watch": settings.watch.model_copy(update={"folders": [str(tmp_path / "DCIM")]})}
    )
    far, _ = await add_watch(
        store,
        listed,
        NewWatch(
            source=str(root), to="library:", then="move:" + str(tmp_path / "DCIM" / "Backed up")
        ),
    )
    assert far.kind == "folder"  # under watch.folders: the chat's and the API's too
    with pytest.raises(FerrymanError) as outside:  # but not a move to outside them
        await add_watch(
            store, listed, NewWatch(source=str(root), to="library:", then="move:/tmp/x")
        )
    assert outside.value.code == "watch.folder_not_allowed"


async def test_the_api_refuses_a_folder_outside_watch_folders_and_takes_one_inside(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Pictures"
    root.mkdir()
    store = await Store.open(settings.database)
    try:
        for folders, status in (([], 400), ([str(root)], 201)):
            allowed = settings.model_copy(
                update={"watch": settings.watch.model_copy(update={"folders": folders})}
            )
            async with (
                web_app(allowed, store, EventBus(), lambda: True) as served,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
                ) as client,
            ):
                body = {"source": str(root), "to": "library:", "then": "delete"}
                added = await client.post("/api/v1/watches", json=body)
                assert added.status_code == status, added.text
                if status == 400:
                    assert added.json()["error"]["code"] == "watch.folder_not_allowed"
                else:
                    assert (added.json()["kind"], added.json()["then"]) == ("folder", "delete")
    finally:
        await store.close()


def test_the_cli_watches_a_folder_named_relative_to_here(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Camera").mkdir()
    monkeypatch.chdir(tmp_path)
    data = ["--data-dir", str(settings.data_dir)]
    added = CliRunner().invoke(app, [*data, "watch", "add", "Camera", "--every", "1m"])
    assert added.exit_code == 0, added.output
    assert f"{tmp_path / 'Camera'} (folder) → library:" in added.output
    refused = CliRunner().invoke(app, [*data, "watch", "add", "Camera", "--then", "shred"])
    assert refused.exit_code != 0 and "watch.bad_then" in refused.output


@pytest.mark.parametrize("action", ["delete", "move"])
def test_a_file_saved_over_while_the_library_is_read_back_is_left(
    settings: Settings, tmp_path: Path, action: str
) -> None:
    """An editor saves a new version (written beside, renamed over the name) while the
    library's copies are read back for ``--then`` (seconds, for a video): the check
    spoke of the old version, so the new one stays where it is."""
    root = tmp_path / "Camera"
    _photo(root / "IMG_1.jpg", 1)
    lister = FolderLister()
    [entry] = lister.list_now(str(root), settings)

    def library_read_while_saved(path: Path) -> bool:
        _photo(root / ".IMG_1.jpg.tmp", 2)  # the editor's save, renamed into place
        os.replace(root / ".IMG_1.jpg.tmp", path)
        return True  # the library held the version delivered

    edited = sha256(make_photo(tmp_path / "same-edit.jpg", 2))
    then = "delete" if action == "delete" else f"move:{tmp_path / 'Sent'}"
    assert lister.after_delivery(str(root), entry, then, library_read_while_saved) is None
    assert sha256(root / "IMG_1.jpg") == edited
