"""A person's limits on every way a job is made, and their places, through the API (the
app on a real store, httpx over ASGI): a retry one at a time or in bulk and a watch's
look stop at ``jobs`` as a new job does; a person's watch to ``library:`` delivers into
their own library folder; a default destination that names a server folder is refused
when it is set, not at every later job."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.samples import make_photo_set
from ferryman.store.memory.store import MemoryStore
from tests.web.test_web_accounts import API, _app, _client, _code, _people, _signed_in


async def _failed(store: MemoryStore, account: int, name: str) -> int:
    """An ended (failed) job of ``account``'s, as a missing input leaves it."""
    job = await store.add_job(
        source=f"https://example.com/{name}.zip",
        name=name,
        dest="link:",
        error=FerrymanError("source.not_found", "gone"),
        account=account,
    )
    assert job.state.value == "failed"
    return job.id


async def test_a_persons_limit_stops_a_bulk_retry_and_a_single_one(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, settings={"limits": {"jobs": 1, "bytes_day": 1}})
    ids = [await _failed(store, ann.id, f"ended-{n}") for n in range(3)]
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            bulk = await client.post(f"{API}/jobs/bulk", json={"action": "retry", "ids": ids})
            assert bulk.status_code == 200, bulk.text
            answered = bulk.json()
            assert answered["done"] == ids[:1]  # one at once: the others stay ended
            assert [r["id"] for r in answered["refused"]] == ids[1:]
            assert {r["error"]["code"] for r in answered["refused"]} == {"account.limit_jobs"}
            one = await client.post(f"{API}/jobs/{ids[2]}/retry")
            assert one.status_code == 429 and _code(one) == "account.limit_jobs"
            assert one.json()["error"]["next"]
            states = [(await store.get_job(i)).state.value for i in ids]
            assert states == ["queued", "failed", "failed"]
    finally:
        await store.close()


async def test_a_retry_is_no_further_result_to_keep(tmp_path: Path, settings: Settings) -> None:
    """``results_kept`` stops a new job, not the retry of one kept already."""
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, settings={"limits": {"results_kept": 1}})
    ended = await _failed(store, ann.id, "kept")
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            more = await client.post(f"{API}/jobs", json={"source": "https://e.com/b.zip"})
            assert more.status_code == 409 and _code(more) == "account.limit_results"
            again = await client.post(f"{API}/jobs/{ended}/retry")
            assert again.status_code == 200, again.text
    finally:
        await store.close()


def _watching(settings: Settings, folder: Path, library: Path) -> Settings:
    """``folder`` allowed from afar; its files taken at once (no settling wait: photos
    written just now would otherwise be "still being written" at the look)."""
    watching = settings.watch.model_copy(update={"folders": [str(folder)], "settle_seconds": 0.0})
    return settings.model_copy(update={"watch": watching, "library": library})


async def test_a_persons_watch_makes_no_job_past_their_limit(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "watched"
    make_photo_set(folder, 2)
    settings = _watching(settings, folder, tmp_path / "server-library")
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, settings={"limits": {"jobs": 1}})
    busy = await store.add_job(source="https://e.com/a.zip", name="a", dest="link:", account=ann.id)
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            added = await client.post(
                f"{API}/watches",
                json={"source": str(folder), "to": "link:", "kind": "folder", "since": "all"},
            )
            assert added.status_code == 201, added.text
            watch = added.json()
            checked = await client.post(f"{API}/watches/{watch['id']}/check")
            assert checked.status_code == 200, checked.text
            found = checked.json()
            assert found["made"] == [] and found["error"]["code"] == "account.limit_jobs"
            assert [j.id for j in await store.list_jobs()] == [busy.id]

            await store.cancel(busy.id)  # her one job ended: the next look makes one
            again = (await client.post(f"{API}/watches/{watch['id']}/check")).json()
            assert again["error"] is None and len(again["made"]) == 2
            made = [j for j in await store.list_jobs() if j.id != busy.id]
            assert [(j.dest, j.account) for j in made] == [("link:", ann.id)]
    finally:
        await store.close()


async def test_a_persons_watch_to_the_library_fills_their_own_folder(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "watched"
    make_photo_set(folder, 1)
    hers = tmp_path / "ann-library"
    settings = _watching(settings, folder, tmp_path / "server-library")
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    await store.update_user(ann.id, settings={"library": str(hers)})
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            added = await client.post(
                f"{API}/watches",
                json={"source": str(folder), "to": "library:", "kind": "folder", "since": "all"},
            )
            assert added.status_code == 201, added.text
            watch = added.json()
            assert watch["dest"] == f"library:{hers}"  # her folder, not the server's
            found = (await client.post(f"{API}/watches/{watch['id']}/check")).json()
            assert found["error"] is None and len(found["made"]) == 1
            [job] = await store.list_jobs()
            assert (job.dest, job.account) == (f"library:{hers}", ann.id)
    finally:
        await store.close()


async def test_a_default_destination_naming_a_server_folder_is_refused_when_set(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as ann:
            await _signed_in(ann, "ann")
            for dest in ("library:/x", f"library:{tmp_path}", "library:relative"):
                refused = await ann.put(f"{API}/me/settings", json={"dest": dest})
                assert refused.status_code == 403, refused.text
                assert _code(refused) == "account.dest_forbidden"
                assert "library" in refused.json()["error"]["next"]
            user = await store.user_named("ann")
            assert user is not None and "dest" not in user.settings
            # A Telegram chat is hers only through her linked Telegram account (none
            # here): tests/web/test_web_telegram_places.py asks Telegram for one.
            unlinked = await ann.put(f"{API}/me/settings", json={"dest": "telegram:@her_channel"})
            assert _code(unlinked) == "account.dest_forbidden", unlinked.text
            for dest in ("link", "library:", "library"):
                taken = await ann.put(f"{API}/me/settings", json={"dest": dest})
                assert taken.status_code == 200, (dest, taken.text)
            made = await ann.post(f"{API}/jobs", json={"source": "https://example.com/x.zip"})
            assert made.status_code == 202, made.text  # the setting kept works at a job
    finally:
        await store.close()


async def test_a_persons_job_reads_no_private_chat_of_the_servers_telegram(
    tmp_path: Path, settings: Settings
) -> None:
    """``t.me/c/ID/N`` is read as ferryman's own Telegram account: a person's is refused
    through the API as in the chat (``ops/who.own_source``), nothing recorded."""
    store = MemoryStore()
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            made = await client.post(
                f"{API}/jobs",
                json={"source": "https://t.me/c/1234567/55", "deliver": {"to": "link"}},
            )
            assert made.status_code == 403 and _code(made) == "account.source_forbidden"
            assert made.json()["error"]["next"]
            watched = await client.post(
                f"{API}/watches", json={"source": "https://t.me/c/1234567", "to": "link:"}
            )
            assert watched.status_code == 403 and _code(watched) == "account.source_forbidden"
        assert await store.list_jobs() == [] and await store.list_watches() == []
    finally:
        await store.close()


async def test_a_person_uses_none_of_the_servers_own_accounts(
    tmp_path: Path, settings: Settings
) -> None:
    """An item of the server's Torbox account (everyone's torrents are there) and a
    WebDAV server the settings hold a login for are read with the server's account:
    a person's job or watch naming one is ``account.source_forbidden``; the same
    WebDAV server with the person's own login in the link is theirs to ask."""
    logins = {"hosts": {"nas.example.com": {"username": "admin", "password": "secret"}}}
    settings = settings.model_copy(
        update={
            "webdav": settings.webdav.model_validate(logins),
            "torbox": settings.torbox.model_copy(update={"api_key": "the-servers-key"}),
        }
    )
    store = MemoryStore()
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            for source in ("torbox:torrent/5", "davs://nas.example.com/photos/trip.zip"):
                made = await client.post(
                    f"{API}/jobs", json={"source": source, "deliver": {"to": "link"}}
                )
                assert made.status_code == 403, (source, made.text)
                assert _code(made) == "account.source_forbidden", (source, made.text)
            for source in ("torbox:", "davs://nas.example.com/photos/"):
                watched = await client.post(
                    f"{API}/watches", json={"source": source, "to": "link:"}
                )
                assert watched.status_code == 403, (source, watched.text)
                assert _code(watched) == "account.source_forbidden", (source, watched.text)
            own = await client.post(
                f"{API}/jobs",
                json={"source": "davs://ann:pw@nas.example.com/a.zip", "deliver": {"to": "link"}},
            )
            assert own.status_code == 202 or _code(own) != "account.source_forbidden", own.text
        assert await store.list_watches() == []
        assert all(
            not j.source.startswith(("torbox:", "davs://nas")) for j in await store.list_jobs()
        )
    finally:
        await store.close()


async def test_a_persons_job_from_before_is_not_read_again_through_the_servers_account(
    tmp_path: Path, settings: Settings
) -> None:
    """A person's job added before ``own_source`` (a private channel's post) is not
    queued again by a retry: the rule holds for what runs again too."""
    store = MemoryStore()
    await _people(store)
    ann = await store.user_named("ann")
    assert ann is not None
    old = await store.add_job(
        source="tg:c/1234567/55",
        name="old",
        dest="link:",
        error=FerrymanError("source.io", "cut"),
        account=ann.id,
    )
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            again = await client.post(f"{API}/jobs/{old.id}/retry")
            assert again.status_code == 403 and _code(again) == "account.source_forbidden"
        assert (await store.get_job(old.id)).state.value == "failed"
    finally:
        await store.close()
