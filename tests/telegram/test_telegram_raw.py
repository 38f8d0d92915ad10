"""A camera's RAW files to Telegram and to download links (issue 79, item 4): sent as
documents, byte for byte and under their own names, where the person asked for files
(``send_documents``); else left out by that choice, the report saying ``camera_raw``,
and the job done. The real Telethon client against the fake Telegram; RAW files of
several makes as each lays out its first bytes (``tests/support/camera_raw``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo
from tests.support.camera_raw import raw_files
from tests.support.engine_helpers import run_until_idle
from tests.telegram.test_telegram_sink import World

RAWS = ("IMG_0101.CR2", "IMG_0102.CR3", "DSC_0103.NEF", "DSCF0108.RAF", "IMG_0106.DNG")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card(folder: Path) -> dict[str, bytes]:
    """A camera's folder: RAW files of five makes and the JPEG beside them."""
    folder.mkdir(parents=True)
    made = {name: data for name, data in raw_files().items() if name in RAWS}
    made["IMG_0101.JPG"] = make_photo(folder / "IMG_0101.JPG", 1).read_bytes()
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return made


async def test_raw_files_go_to_telegram_as_documents_when_files_are_asked_for(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    made = card(tmp_path / "card")
    store = await w.store()
    job = await intake.add_source(store, tmp_path / "card", dest="telegram:@dest")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    items = await store.job_items(job.id)
    assert {Path(it.source_path).name: it.state for it in items} == dict.fromkeys(
        made, ItemState.DELIVERED
    )
    sent = [m for m in w.server.chat(w.channel) if m.media is not None]
    documents = {m.media.file.name: m.media.file.sha256 for m in sent if m.media.kind == "document"}
    assert documents == {name: sha(made[name]) for name in RAWS}  # each byte for byte
    assert [m.media.kind for m in sent].count("photo") == 1  # the JPEG, a photo still
    await store.close()


async def test_raw_files_are_left_out_by_choice_unless_files_are_asked_for(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)  # send_documents: no (the default)
    made = card(tmp_path / "card")
    store = await w.store()
    job = await intake.add_source(store, tmp_path / "card", dest="telegram:@dest")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    items = {Path(it.source_path).name: it for it in await store.job_items(job.id)}
    for name in RAWS:
        assert items[name].state is ItemState.SKIPPED and items[name].reason == "camera_raw"
    assert items["IMG_0101.JPG"].state is ItemState.DELIVERED
    sent = [m for m in w.server.chat(w.channel) if m.media is not None]
    assert [m.media.kind for m in sent] == ["photo"]
    for name, data in made.items():  # the person's files, as they were
        assert (tmp_path / "card" / name).read_bytes() == data
    await store.close()


async def test_raw_files_become_download_links_as_they_are_when_asked(tmp_path: Path) -> None:
    w = World(tmp_path, send_documents=True)
    made = card(tmp_path / "card")
    store = await w.store()
    job = await intake.add_source(store, tmp_path / "card", dest="link:")
    await run_until_idle(store, w.settings)

    assert (await store.get_job(job.id)).state is JobState.DONE
    kept = {}
    for manifest in w.settings.results_dir.rglob("manifest.json"):  # each album's files
        for entry in json.loads(manifest.read_text())["items"]:
            kept[entry["file"]] = sha((manifest.parent / entry["file"]).read_bytes())
    assert kept == {name: sha(data) for name, data in made.items()}
    await store.close()
