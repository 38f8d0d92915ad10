"""``/api/v1/watches`` in process (the app on the test's store, httpx over ASGI), a feed
served on loopback: add, list, check now (jobs made), pause, resume, remove; bad input
answers with the CLI's codes."""

from __future__ import annotations

from pathlib import Path

import httpx

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.store.memory.store import MemoryStore
from ferryman.web.server import web_app
from tests.support.httpserve import serving
from tests.watch.test_watch_feed import serve_feed


async def test_the_api_adds_lists_checks_pauses_resumes_and_removes_a_watch(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()  # the web's doors, not the database's
    try:
        with serving() as feed:
            serve_feed(feed, tmp_path, ["ep1", "ep2"])
            async with (
                web_app(settings, store, EventBus(), lambda: True) as served,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
                ) as client,
            ):
                api = "/api/v1/watches"
                added = await client.post(
                    api,
                    json={"source": feed.url("/feed.xml"), "to": "library:", "since": "all"},
                )
                assert added.status_code == 201, added.text
                watch = added.json()
                assert (watch["kind"], watch["dest"], watch["state"]) == (
                    "feed",
                    "library:",
                    "waiting",
                )
                listed = (await client.get(api)).json()["watches"]
                assert [w["id"] for w in listed] == [watch["id"]]
                checked = await client.post(f"{api}/{watch['id']}/check")
                assert checked.status_code == 200, checked.text
                found = checked.json()
                assert found["busy"] is False and found["error"] is None
                assert found["held"] == []  # a file still being written: named there
                assert [m["title"] for m in found["made"]] == ["Episode ep1", "Episode ep2"]
                [job] = await store.list_jobs()  # one look: one job, each entry in it
                assert [m["job"] for m in found["made"]] == [job.id, job.id]
                again = (await client.post(f"{api}/{watch['id']}/check")).json()
                assert again["made"] == []  # nothing twice
                paused = (await client.post(f"{api}/{watch['id']}/pause")).json()
                assert (paused["state"], paused["paused"]) == ("paused", True)
                resumed = (await client.post(f"{api}/{watch['id']}/resume")).json()
                assert resumed["paused"] is False
                assert (await client.delete(f"{api}/{watch['id']}")).json() == {
                    "removed": watch["id"]
                }
                gone = await client.post(f"{api}/{watch['id']}/pause")
                assert gone.status_code == 404
                assert gone.json()["error"]["code"] == "watch.not_found"
                bad = await client.post(
                    api, json={"source": feed.url("/feed.xml"), "to": "library:", "every": "1s"}
                )
                assert bad.status_code >= 400
                assert bad.json()["error"]["code"] == "watch.bad_option"
                unknown = await client.post(api, json={"source": "x", "to": "y", "colour": 1})
                assert unknown.status_code == 422
                assert (await client.get(api)).json() == {"watches": []}
    finally:
        await store.close()


async def test_the_api_keeps_the_library_folder_the_servers_and_says_next_steps(
    tmp_path: Path, settings: Settings
) -> None:
    """As for a job: a client names a destination's kind, never a folder on the server;
    a failing watch's error carries its next step in the page's words."""
    store = MemoryStore()  # the web's doors, not the database's
    try:
        with serving() as feed:
            serve_feed(feed, tmp_path, ["ep1"])
            async with (
                web_app(settings, store, EventBus(), lambda: True) as served,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
                ) as client,
            ):
                api = "/api/v1/watches"
                source = feed.url("/feed.xml")
                folder = await client.post(api, json={"source": source, "to": "library:/tmp/x"})
                assert folder.status_code == 422
                assert folder.json()["error"]["code"] == "request.invalid"
                assert "library:" in folder.json()["error"]["message"]
                nowhere = await client.post(api, json={"source": source, "to": "ftp:"})
                assert nowhere.json()["error"]["code"] == "request.invalid"
                assert await store.list_watches() == []
                added = await client.post(api, json={"source": source, "to": "library:"})
                watch = added.json()
                assert (watch["dest"], watch["output_text"]) == ("library:", None)
                audio = {"source": source, "to": "link:", "audio": "mp3", "bitrate": 128}
                heard = (await client.post(api, json=audio)).json()
                assert (heard["output"], heard["output_text"]) == ("mp3-128", "MP3 128 kbps")
                await client.delete(f"{api}/{heard['id']}")
                del feed.resources["/feed.xml"]
                checked = (await client.post(f"{api}/{watch['id']}/check")).json()
                assert checked["error"]["code"] == "source.not_found"
                assert checked["error"]["next"]
                (listed,) = (await client.get(api)).json()["watches"]
                assert listed["state"] == "failing"
                assert listed["error"]["next"] == checked["error"]["next"]
                assert "ferryman" not in listed["error"]["next"]
    finally:
        await store.close()
