"""A person's watch makes jobs within that person's limits, as every other door does: the
engine's own watch stage (not only a look asked through the API) checks them before a
look's entries become a job. A real folder, real photos, the real engine and library."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.engine_helpers import run_until_idle
from tests.watch.test_watch_folder import _delivered, _photo, _settled, _watch_all


async def test_a_persons_watch_stops_at_their_daily_bytes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = _settled(settings)
    root = tmp_path / "Camera"
    first = _photo(root / "IMG_1.jpg", 1)
    ann = await store.add_user("ann", None)
    await store.update_user(ann.id, settings={"limits": {"bytes_day": 1}})
    watch = await _watch_all(store, root)
    await store.set_watch_account(watch.id, ann.id)
    await run_until_idle(store, settings)  # nothing used yet: the first look's job goes
    assert _delivered(settings) == [first]
    [job] = await store.list_jobs()
    assert job.account == ann.id

    make_photo(root / "IMG_2.jpg", 2)  # her bytes of today are spent
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, settings)
    assert [j.id for j in await store.list_jobs()] == [job.id]  # no second job
    looked = await store.get_watch(watch.id)
    assert looked.last_code == "account.limit_bytes", looked
    assert _delivered(settings) == [first]
    assert not (await store.watch_seen_rows(watch.id))[1:]  # the new photo is left for later
