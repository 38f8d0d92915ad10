"""A Google Takeout sent to Telegram (issue 81, item 3): its sidecars not sent, and a
caption that asks for them (``{place}``, ``{description}``, ``{taken}``) says what the
sidecars told, also once the job's end edits a caption sent while its number of albums
was open ("1/1+" → "1/2"). The real Telethon client against the fake Telegram."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.samples import make_photo
from tests.telegram.test_telegram_sink import World, telegram_state

TAKEN = 1546344000  # 2019-01-01 12:00 UTC
YEAR = "Takeout/Google Photos/Photos from 2019"


def takeout(folder: Path, n: int) -> Path:
    path = folder / "takeout-20240115T101112Z-001.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            name = f"IMG_{i:04d}.jpg"
            zf.writestr(f"{YEAR}/{name}", make_photo(folder / name, i, size=(64, 48)).read_bytes())
            said = {
                "title": name,
                "description": f"photo {i}",
                "photoTakenTime": {"timestamp": str(TAKEN + i * 60)},
                "geoData": {"latitude": 10.0 + i, "longitude": 20.0, "altitude": 0.0},
            }
            zf.writestr(f"{YEAR}/{name}.supplemental-metadata.json", json.dumps(said))
    return path


async def test_a_takeouts_captions_say_its_places_and_descriptions(tmp_path: Path) -> None:
    w = await World.logged_in(
        tmp_path,
        backlog_items=10,
        caption_template="{taken} {place}\n{description}\n{album}/{albums}",
    )
    store = await w.store()
    try:
        job = await intake.add_source(store, takeout(tmp_path, 12), dest="telegram:me")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        left = await telegram_state(store).captions_open(job.id)
    finally:
        await store.close()
    albums = w.server.albums(w.me)
    assert [len(a) for a in albums] == [10, 2]  # the 12 photos, no sidecar
    first, second = albums[0][0], albums[1][0]
    taken = datetime.fromtimestamp(TAKEN).strftime("%Y-%m-%d %H:%M")
    said = "\n".join(f"photo {i}" for i in range(10))
    assert first.text == f"{taken} 10.00000, 20.00000\n{said}\n1/2"
    assert first.history == [f"{taken} 10.00000, 20.00000\n{said}\n1/1+"]  # sent open
    later = datetime.fromtimestamp(TAKEN + 600).strftime("%Y-%m-%d %H:%M")
    assert second.text == f"{later} 20.00000, 20.00000\nphoto 10\nphoto 11\n2/2"
    assert left == {}
