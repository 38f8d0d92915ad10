"""A Live Photo to Telegram (issue 79, item 4): an iPhone's ``IMG_0003.HEIC`` and its
``IMG_0003.MOV`` falling on an album's boundary go in one album (the photo moves to the
next, beside its clip), not one at the end of an album and the other at the start of
the next. Real files (pillow-heif's HEIC, PyAV's H.264 MOV, JPEGs), the real Telethon
client against the fake Telegram."""

from __future__ import annotations

from pathlib import Path

import pillow_heif
from PIL import Image

from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo, make_video, make_zip
from tests.telegram.test_telegram_sink import World


async def test_a_live_photo_at_an_album_boundary_goes_in_one_album(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path, album_size=3)
    made = tmp_path / "made"
    made.mkdir()
    heic = made / "IMG_0003.HEIC"
    pillow_heif.from_pillow(Image.open(make_photo(made / "s.jpg", 3))).save(heic, quality=60)
    clip = make_video(made / "IMG_0003.MOV", 3, seconds=0.5, container="mov")
    entries = [
        ("DCIM/IMG_0001.JPG", make_photo(made / "a.jpg", 1)),
        ("DCIM/IMG_0002.JPG", make_photo(made / "b.jpg", 2)),
        ("DCIM/IMG_0003.HEIC", heic),  # album 1's third place; its clip is fourth
        ("DCIM/IMG_0003.MOV", clip),
        ("DCIM/IMG_0004.JPG", make_photo(made / "c.jpg", 4)),
    ]
    store = await w.store()
    job = await intake.add_source(
        store, make_zip(tmp_path / "roll.zip", entries), dest="telegram:@dest"
    )
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.DELIVERED}
    album_of = {Path(it.source_path).name: it.album_id for it in items}
    assert album_of["IMG_0003.HEIC"] == album_of["IMG_0003.MOV"]
    assert album_of["IMG_0002.JPG"] != album_of["IMG_0003.HEIC"]
    sent = [m for m in w.server.chat(w.channel) if m.media is not None]
    groups = [m.grouped_id for m in sent]
    assert len(sent) == 5 and len(set(groups)) == 2  # two albums: 2 + 3
    await store.close()
