"""One job per watch check: the entries a look finds become one job named after the
feed (or channel), its files named after the entries' titles and kept in the source's
order, so a destination gets albums (of up to ten) rather than a job per entry."""

from __future__ import annotations

import asyncio
import json
from email.utils import formatdate
from pathlib import Path

import pytest

from faketg.client import FakeDialer
from ferryman.config import Retry, Settings
from ferryman.engine.ops.control import remove_job
from ferryman.engine.ops.intake import add_source
from ferryman.engine.ops.watch_admin import check_now
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.httpserve import FaultServer, serving
from tests.watch.test_watch_telegram import _check, _watch, world_at

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _photo_feed(server: FaultServer, tmp_path: Path, count: int) -> list[str]:
    """A feed titled "Holiday snaps" of ``count`` photos (direct .jpg enclosures, in
    the feed's order newest first), each with a title; the titles in the feed's order."""
    titles = [f"Beach day {n}" for n in range(count, 0, -1)]
    items = []
    for place, title in enumerate(titles):
        n = count - place
        photo = make_photo(tmp_path / "made" / f"img{n}.jpg", n, size=(64, 48))
        if f"/img{n}.jpg" not in server.resources:
            server.add(f"/img{n}.jpg", photo.read_bytes(), content_type="image/jpeg")
        items.append(
            f"<item><title>{title}</title><guid>shot-{n}</guid>"
            f"<pubDate>{formatdate(1_700_000_000 - place * 3600, usegmt=True)}</pubDate>"
            f'<enclosure url="{server.url(f"/img{n}.jpg")}" type="image/jpeg" length="1"/>'
            "</item>"
        )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Holiday snaps</title>'
        f"<link>{server.base}/</link>{''.join(items)}</channel></rss>"
    )
    if "/feed.xml" in server.resources:
        server.replace("/feed.xml", feed.encode())
    else:
        server.add("/feed.xml", feed.encode(), content_type="application/rss+xml")
    return titles


def _manifests(settings: Settings) -> list[tuple[Path, dict[str, object]]]:
    return [
        (path.parent, json.loads(path.read_text()))
        for path in sorted(settings.library.rglob("manifest.json"))
    ]


@pytest.mark.slow  # the feed is read in a child process
async def test_a_feed_of_six_photos_is_one_job_named_after_the_feed(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with serving() as server:
        titles = _photo_feed(server, tmp_path, 6)
        watch = await store.add_watch(
            kind="feed",
            source=server.url("/feed.xml"),
            dest="library:",
            every_seconds=3600,
            since="all",
            next_check_at=0.0,
        )
        found = await check_now(store, settings, watch.id, owner="test")
        assert found is not None and found.error is None
        assert len(found.made) == 6 and len({job for _, job in found.made}) == 1
        [job] = await store.list_jobs()
        assert job.name == "Holiday snaps"
        seen = await store.watch_seen_rows(watch.id)
        assert len(seen) == 6 and {j for _, j in seen} == {job.id}
        assert (await store.get_watch(watch.id)).found == 1  # jobs made
        engine = Engine(store, settings)
        await asyncio.wait_for(engine.run(until_idle=True), 120)
    [done] = await store.list_jobs()
    assert done.state.value == "done"
    [(folder, manifest)] = _manifests(settings)
    assert folder.relative_to(settings.library).parts[0] == "Holiday snaps"
    items = manifest["items"]
    assert isinstance(items, list)
    assert [Path(i["file"]).name for i in items] == [f"{t}.jpg" for t in titles]


async def test_six_new_posts_of_a_channel_reach_a_chat_as_one_album(
    store: Store, tmp_path: Path
) -> None:
    """Six posts of one photo each, found at one look, go to ``telegram:me`` as one
    album of six (one job), not six single messages, in the channel's order."""
    async with world_at(tmp_path) as world:
        shas = [world.post(world.news, f"shot {n}")[1] for n in range(6)]
        watch_id = await _watch(store, "https://t.me/newsroom", "all", dest="telegram:me")
        found = await _check(store, world, watch_id)
        assert [e.title for e, _ in found.made] == [f"shot {n}" for n in range(6)]
        [job] = await store.list_jobs()
        assert job.name == "newsroom"
        engine = Engine(store, world.settings, dialer=FakeDialer(world.server))
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        [album] = world.server.albums(world.me)
        assert [m.media.file.sha256 for m in album if m.media] == shas


@pytest.mark.slow  # the feed is read in a child process
async def test_a_second_look_makes_a_second_job_and_nothing_twice(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """What a later look finds is its own job (the name made unique); an entry seen
    before is in no new job."""
    with serving() as server:
        _photo_feed(server, tmp_path, 2)
        watch = await store.add_watch(
            kind="feed",
            source=server.url("/feed.xml"),
            dest="library:",
            every_seconds=3600,
            since="all",
            next_check_at=0.0,
        )
        first = await check_now(store, settings, watch.id, owner="test")
        assert first is not None and len(first.made) == 2
        _photo_feed(server, tmp_path, 3)  # one more, at the top
        second = await check_now(store, settings, watch.id, owner="test")
        assert second is not None
        assert [e.title for e, _ in second.made] == ["Beach day 3"]
    jobs = await store.list_jobs()
    assert sorted(j.name for j in jobs) == ["Holiday snaps", "Holiday snaps (2)"]


@pytest.mark.slow  # the feed is read in a child process
async def test_a_dead_entry_fails_alone_and_a_retried_fetch_goes_on_from_the_last_whole_one(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Of a look's four photos, one is gone (404: it fails alone, the job goes on) and one
    answers 503 twice (the job's fetch is tried again): the photo fetched before it is
    not fetched again, and the rest are delivered in the feed's order."""
    settings = settings.model_copy(update={"retry": Retry(base_seconds=0.05, max_seconds=0.2)})
    with serving() as server:
        served = {"a": True, "gone": False, "flaky": True, "d": True}
        items = []
        for n, (name, present) in enumerate(served.items()):
            if present:
                photo = make_photo(tmp_path / f"{name}.jpg", n + 1, size=(64, 48))
                server.add(f"/{name}.jpg", photo.read_bytes(), content_type="image/jpeg")
            items.append(
                f"<item><title>Shot {name}</title><guid>{name}</guid>"
                f'<enclosure url="{server.url(f"/{name}.jpg")}" type="image/jpeg"/></item>'
            )
        flaky = server.resources["/flaky.jpg"].faults
        flaky.status, flaky.status_times = 503, 2
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel>{"".join(items)}</channel></rss>'
        server.add("/feed.xml", feed.encode(), content_type="application/rss+xml")
        watch = await store.add_watch(
            kind="feed", source=server.url("/feed.xml"), dest="library:",
            every_seconds=3600, since="all", next_check_at=0.0,
        )  # fmt: skip
        found = await check_now(store, settings, watch.id, owner="test")
        assert found is not None and len(found.made) == 4
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)
        assert len(server.requests_for("/flaky.jpg")) > len(server.requests_for("/d.jpg"))
        assert len(server.requests_for("/a.jpg")) == len(server.requests_for("/d.jpg"))
    [job] = await store.list_jobs()
    assert job.name == "feed" and job.state.value == "done"  # no feed title: the link's
    failed = [i for i in await store.job_items(job.id) if i.error_code is not None]
    assert [(i.source_path, i.error_code) for i in failed] == [("Shot gone", "source.not_found")]
    [(_, manifest)] = _manifests(settings)
    items_sent = manifest["items"]
    assert isinstance(items_sent, list)
    assert [Path(i["file"]).name for i in items_sent] == [
        "Shot a.jpg",
        "Shot flaky.jpg",
        "Shot d.jpg",
    ]


@pytest.mark.slow  # the feed is read in a child process
async def test_a_file_a_later_entry_links_again_is_not_taken_twice_nor_added_by_hand(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A later look's new entry that links a photo the first look's job holds is marked
    seen with that job (one copy in the library); ``add`` of that photo's link to the
    same place is refused naming the job, until the job is removed."""
    with serving() as server:
        for n, name in enumerate(("a", "b"), 1):
            photo = make_photo(tmp_path / f"{name}.jpg", n, size=(64, 48))
            server.add(f"/{name}.jpg", photo.read_bytes(), content_type="image/jpeg")

        def feed(entries: list[tuple[str, str]]) -> bytes:
            items = "".join(
                f"<item><title>{guid}</title><guid>{guid}</guid>"
                f'<enclosure url="{server.url(path)}" type="image/jpeg"/></item>'
                for guid, path in entries
            )
            return (
                f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
            )

        server.add("/feed.xml", feed([("first", "/a.jpg")]), content_type="application/rss+xml")
        watch = await store.add_watch(
            kind="feed", source=server.url("/feed.xml"), dest="library:",
            every_seconds=3600, since="all", next_check_at=0.0,
        )  # fmt: skip
        first = await check_now(store, settings, watch.id, owner="test")
        assert first is not None and first.error is None
        [taken] = await store.list_jobs()
        server.replace(
            "/feed.xml", feed([("new", "/b.jpg"), ("again", "/a.jpg"), ("first", "/a.jpg")])
        )
        second = await check_now(store, settings, watch.id, owner="test")
        assert second is not None and second.error is None
        made = {entry.title: job for entry, job in second.made}
        assert made["again"] == taken.id and made["new"] != taken.id
        assert ("again", taken.id) in await store.watch_seen_rows(watch.id)
        newer = await store.get_job(made["new"])
        assert server.url("/a.jpg") not in newer.source
        with pytest.raises(FerrymanError) as refused:
            await add_source(store, server.url("/a.jpg"), dest="library:")
        assert refused.value.code == "source.duplicate"
        assert refused.value.message.endswith(f"is already job {taken.id}")
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)
        names = sorted(
            Path(i["file"]).name
            for _, manifest in _manifests(settings)
            for i in manifest["items"]  # type: ignore[attr-defined]
        )
        assert names == ["first.jpg", "new.jpg"]  # the photo once, not "again.jpg" too
        await remove_job(store, settings, taken.id)
        again = await add_source(store, server.url("/a.jpg"), dest="library:")
    assert again.source == server.url("/a.jpg")
