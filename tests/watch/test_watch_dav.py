"""Watching a WebDAV folder (wsgidav on loopback) that gets new and changed files: each
new or changed media file is delivered once, files that are not media are left out,
and `run --until-idle` looks at a due watch once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings, WebdavLogin, WebdavSettings
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.davserve import PASSWORD, USER, DavServer, dav_serving
from tests.support.engine_helpers import library_files, run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dav"
    (root / "Inbox").mkdir(parents=True)
    with dav_serving(root) as server:
        yield server


@pytest.fixture
def dav_settings(settings: Settings, dav: DavServer) -> Settings:
    login = WebdavLogin(username=USER, password=PASSWORD)
    return settings.model_copy(
        update={"webdav": WebdavSettings(hosts={f"127.0.0.1:{dav.port}": login})}
    )


def _put(dav: DavServer, tmp_path: Path, name: str, seed: int) -> str:
    made = make_photo(tmp_path / "made" / f"{seed}-{name}", seed)
    data = made.read_bytes()
    (dav.root / "Inbox" / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _delivered(settings: Settings) -> list[tuple[str, str]]:
    return sorted((Path(f["file"]).name, f["disk_sha256"]) for f in library_files(settings.library))


async def test_new_and_changed_files_in_a_folder_are_delivered_once(
    store: Store, dav_settings: Settings, dav: DavServer, tmp_path: Path
) -> None:
    first = _put(dav, tmp_path, "a.jpg", 1)
    (dav.root / "Inbox" / "notes.txt").write_text("not media\n")
    watch = await store.add_watch(
        kind="dav",
        source=dav.uri("Inbox/"),
        dest="library:",
        every_seconds=3600.0,
        since="all",
        next_check_at=0.0,
    )
    await run_until_idle(store, dav_settings)
    assert _delivered(dav_settings) == [("a.jpg", first)]
    looked = await store.get_watch(watch.id)
    assert looked.primed and looked.next_check_at > looked.last_check_at + 3000  # type: ignore[operator]
    await run_until_idle(store, dav_settings)  # not due: nothing is listed again
    assert (await store.get_watch(watch.id)).last_check_at == looked.last_check_at

    second = _put(dav, tmp_path, "b.jpg", 2)
    changed = _put(dav, tmp_path, "a.jpg", 3)  # the same name, new content
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, dav_settings)
    names = sorted(j.name for j in await store.list_jobs())
    assert names == ["Inbox", "Inbox (2)"] and all(
        j.state.value == "done" for j in await store.list_jobs()
    )
    delivered = _delivered(dav_settings)
    assert sorted(sha for _, sha in delivered) == sorted([first, second, changed])
    seen = await store.watch_seen_rows(watch.id)
    assert len(seen) == 3 and all(job is not None for _, job in seen)
    assert len({job for _, job in seen}) == 2  # the two found at one look: one job
    assert not any("notes.txt" in entry for entry, _ in seen)
    assert all(PASSWORD not in entry for entry, _ in seen)

    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, dav_settings)  # nothing new: nothing made
    assert len(await store.list_jobs()) == 2


async def test_a_wrong_login_is_kept_as_the_watchs_error(
    store: Store, settings: Settings, dav: DavServer
) -> None:
    watch = await store.add_watch(
        kind="dav",
        source=dav.uri("Inbox/"),
        dest="library:",
        every_seconds=3600.0,
        since="all",
        next_check_at=0.0,
    )
    await run_until_idle(store, settings)  # no login for the host
    failed = await store.get_watch(watch.id)
    assert failed.failures == 1 and failed.last_code == "source.auth"
    assert failed.next_check_at - (failed.last_check_at or 0) == pytest.approx(60.0, abs=1)
    assert await store.list_jobs() == []
