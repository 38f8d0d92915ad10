"""Album captions: open-ended while the number of albums is not known ("1/1+": one of
at least one), and final in every manifest once the job ends: albums delivered before
the total was known have their manifests' captions rewritten, each once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.deliver import step as deliver
from ferryman.engine.deliver.step import caption
from ferryman.engine.ops import intake
from ferryman.media.plan import Plan
from ferryman.model import (
    Album,
    AlbumClaim,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
    MediaKind,
)
from ferryman.samples import make_photo, make_zip
from ferryman.sinks.base import Delivery
from ferryman.sinks.library import LibrarySink
from ferryman.sinks.link import LinkSink
from ferryman.store import Store
from tests.support.engine_helpers import run_until_idle


def _album(tmp: Path, seq: int) -> Album:
    photo = make_photo(tmp / f"work-{seq}.jpg", seq)
    item = Item(
        id=seq, job_id=7, seq=seq, source_path=f"p{seq}.jpg", kind=MediaKind.PHOTO,
        state=ItemState.GROUPED, size=photo.stat().st_size, sha256=None,
        work_path=str(photo), plan=Plan.AS_IS, reason=None, error_code=None, attempts=0,
        album_id=seq,
    )  # fmt: skip
    return Album(seq, 7, seq, AlbumGroup.VISUAL, AlbumState.DELIVERING, 0, [item])


def _captions(root: Path) -> list[str]:
    return [json.loads(p.read_text())["caption"] for p in sorted(root.glob("trip/*/manifest.json"))]


def test_captions_are_open_ended_until_the_total_is_known(
    tmp_path: Path, settings: Settings
) -> None:
    job = Job(
        id=7, source="file:///trip.zip", name="trip", dest="library:", state=JobState.ACTIVE,
        priority=0, wait_reason=None, error_code=None, error_message=None, cursor=0,
        read_done=False, created_at=0.0, finished_at=None,
    )  # fmt: skip
    sink = LibrarySink(tmp_path / "library")
    for seq, final in ((1, False), (2, False), (3, True)):
        claim = AlbumClaim(_album(tmp_path, seq), job, seq, final, 0.0)
        asyncio.run(sink.deliver(Delivery(job, claim.album, caption(settings, claim), "")))
    # the first two left while the archive was still being read
    assert _captions(sink.root) == ["trip — 1/1+", "trip — 2/2+", "trip — 3/3"]


def test_a_job_that_ends_makes_every_caption_final(tmp_path: Path, settings: Settings) -> None:
    """All albums may leave before the total is known (none claimed knowing it): the
    job's end makes their captions final, in the library and in link: results."""
    job = Job(
        id=7, source="file:///trip.zip", name="trip", dest="library:", state=JobState.DONE,
        priority=0, wait_reason=None, error_code=None, error_message=None, cursor=0,
        read_done=True, created_at=0.0, finished_at=1.0,
    )  # fmt: skip
    for sink, folder, previews in (
        (LibrarySink(tmp_path / "library"), tmp_path / "library" / "trip", []),
        (LinkSink(tmp_path / "results"), tmp_path / "results" / "job-7", [".thumbs"]),
    ):
        for seq in (1, 2):
            claim = AlbumClaim(_album(tmp_path, seq), job, seq, False, 0.0)
            told = caption(settings, claim)
            asyncio.run(sink.deliver(Delivery(job, claim.album, told, "")))
        shown = [json.loads((folder / f"000{n}" / "manifest.json").read_text()) for n in (1, 2)]
        assert [m["caption"] for m in shown] == ["trip — 1/1+", "trip — 2/2+"]

        def render(seq: int, items: int, said: Mapping[str, str]) -> str:
            assert said == {}  # no photo field was said: none is kept
            return f"trip — {seq}/2 ({items})"

        assert asyncio.run(sink.make_captions_final(job, render)) == 2
        shown = [json.loads((folder / f"000{n}" / "manifest.json").read_text()) for n in (1, 2)]
        assert [m["caption"] for m in shown] == ["trip — 1/2 (1)", "trip — 2/2 (1)"]
        assert asyncio.run(sink.make_captions_final(job, render)) == 0  # each once
        kept = sorted(p.name for p in (folder / "0001").iterdir())
        assert kept == [*previews, "manifest.json", "p1.jpg"]  # and no stray manifest copy
        if previews:  # link: results keep the gallery's preview beside the photo
            assert [p.name for p in (folder / "0001" / ".thumbs").iterdir()] == ["p1.jpg.webp"]


async def test_the_engine_leaves_every_caption_final(tmp_path: Path, settings: Settings) -> None:
    photos = [make_photo(tmp_path / "src" / f"p{n}.jpg", n) for n in range(5)]
    archive = make_zip(tmp_path / "one-each.zip", [(p.name, p) for p in photos])
    store = await Store.open(settings.database)
    try:
        await store.set_runtime_setting("album_size", 1)  # five albums, sealed as they are read
        job = await intake.add_source(store, archive)
        engine = await run_until_idle(store, settings)
        manifests = sorted((settings.library / "one-each").glob("*/manifest.json"))
        captions = [json.loads(m.read_text())["caption"] for m in manifests]
        assert captions == [f"one-each — {n}/5" for n in range(1, 6)]
        # Had every album left before the total was known, the job's end would do it:
        for n, manifest in enumerate(manifests, start=1):
            data = json.loads(manifest.read_text())
            manifest.write_text(json.dumps(data | {"caption": f"one-each — {n}/{n}+"}))
        await deliver.captions_at_end(engine.ctx, await store.get_job(job.id))
        captions = [json.loads(m.read_text())["caption"] for m in manifests]
        assert captions == [f"one-each — {n}/5" for n in range(1, 6)]
    finally:
        await store.close()


async def test_album_count_and_fetch_errors_on_both_stores(
    store: Store, tmp_path: Path, settings: Settings
) -> None:
    """The two queries the end of a job and `status` added, on SQLite and PostgreSQL."""
    photos = [make_photo(tmp_path / "src" / f"p{n}.jpg", n) for n in range(3)]
    archive = make_zip(tmp_path / "three.zip", [(p.name, p) for p in photos])
    job = await intake.add_source(store, archive)
    assert await store.album_count(job.id) == 0
    assert await store.fetch_errors() == {}
    await store.set_runtime_setting("album_size", 2)
    await run_until_idle(store, settings)
    assert await store.album_count(job.id) == 2
