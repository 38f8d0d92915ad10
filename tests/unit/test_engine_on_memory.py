"""The whole engine on the in-memory store (``store/memory``), no database file: the
runner's workers and housekeeper, every stage a zip goes through, the leases, the job's
end and its notice's event. A real zip, with a real JPEG made by Pillow, is read,
staged and delivered into the local library, as procrastinate's worker runs on its
in-memory connector."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from pathlib import Path

from PIL import Image

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import AlbumDelivered, Event, JobFinished
from ferryman.engine.runner import Engine
from ferryman.model import ItemState, JobState
from ferryman.store.memory.store import MemoryStore
from tests.engine.test_notify import receiving, run_until, signed_right, with_notify


def _jpeg(shade: int) -> bytes:
    image = Image.new("RGB", (64, 48), (shade, 255 - shade, 90))
    for x in range(0, 64, 8):  # not one colour: a photo's bytes, not a blank
        image.paste((x * 3, shade, 200), (x, 0, x + 4, 48))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


async def test_a_zip_runs_end_to_end_through_the_engine_on_the_memory_store(
    tmp_path: Path, settings: Settings
) -> None:
    photos = {f"trip/{n}.jpg": _jpeg(40 * n) for n in range(1, 4)}
    archive = _zip(tmp_path / "holiday.zip", {**photos, "trip/notes.txt": b"not media"})
    store = MemoryStore()
    job = await intake.add_source(store, archive, settings=settings)
    engine = Engine(store, settings)
    seen: list[Event] = []
    engine.bus.subscribe(seen.append)

    await asyncio.wait_for(engine.run(until_idle=True), 60)

    ended = await store.get_job(job.id)
    assert (ended.state, ended.error_code) == (JobState.DONE, None)
    items = await store.job_items(job.id)
    assert sorted((i.source_path, i.state) for i in items) == [
        *((name, ItemState.DELIVERED) for name in sorted(photos)),
        ("trip/notes.txt", ItemState.SKIPPED),
    ]
    (manifest,) = settings.library.rglob("manifest.json")
    shown = json.loads(manifest.read_text())
    delivered = {
        entry["source_path"]: hashlib.sha256((manifest.parent / entry["file"]).read_bytes())
        for entry in shown["items"]
    }
    assert {name: digest.hexdigest() for name, digest in delivered.items()} == {
        name: hashlib.sha256(data).hexdigest() for name, data in photos.items()
    }
    assert [type(e) for e in seen if isinstance(e, AlbumDelivered | JobFinished)] == [
        AlbumDelivered,
        JobFinished,
    ]
    # Every lease handed back, the run recorded as stopped, the job's end told.
    for table in ("jobs", "albums", "items", "fetches"):
        assert all(row["owner"] is None for row in store.tables[table].values()), table
    (run,) = await store.node_runs()
    assert run.stopped_at is not None and run.held == 0
    # No database was opened, and the work area holds nothing of the job.
    assert not list(settings.data_dir.rglob("*.db"))
    assert not [p for p in settings.work_dir.rglob("*") if p.is_file()]


async def test_a_jobs_notice_is_retried_and_sent_by_the_engine_on_the_memory_store(
    tmp_path: Path, settings: Settings
) -> None:
    """The job's end becomes an event row in its transaction, the notifier makes it a
    notice, the webhook refuses it once (a retry, later by the notifier's own lease),
    then takes it, signed."""
    archive = _zip(tmp_path / "one.zip", {"a.jpg": _jpeg(7)})
    store = MemoryStore()
    with receiving(fail_first=1) as hook:
        settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{hook.port}/hook"])
        job = await intake.add_source(store, archive, settings=settings)
        await run_until(Engine(store, settings), "a notice", hook.bodies)
        ((path, headers, body),) = hook.got
    assert hook.refused == 1 and path == "/hook" and signed_right(headers, body)
    sent = json.loads(body)
    assert (sent["event"], sent["job"]["id"]) == ("job_done", job.id)
    assert (await store.get_job(job.id)).state is JobState.DONE
    (notice,) = await store.list_notices()
    assert (notice.state, notice.attempts) == ("sent", 1)
