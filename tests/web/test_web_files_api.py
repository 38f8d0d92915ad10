"""A job of many results stays light: its view (and every live message, which carries
the view) holds one page of files with the totals of all, and ``GET …/files`` gives the
next pages, signed as the view's links are, behind the same tokens as the rest of the API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from ferryman.web.guard import new_token
from ferryman.web.server import web_app
from tests.support.clock import ManualClock
from tests.support.engine_helpers import run_until_idle
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web

pytestmark = pytest.mark.slow

PAGE = 60  # files a job's view carries (web/live.FILES_PAGE)
MESSAGE_BOUND = 30_000  # bytes of one live message: a page of files (~23 kB here) and the rest


def _job_of_photos(web: WebServer, client: httpx.Client, folder: Path, count: int) -> int:
    """A finished link job of ``count`` small photos, uploaded as one zip."""
    photos = make_photo_set(folder / "in", count)
    data = make_zip(folder / "photos.zip", [(p.name, p) for p in photos]).read_bytes()
    upload = client.post("/api/v1/uploads", json={"name": "photos.zip", "size": len(data)})
    url = f"/api/v1/uploads/{upload.json()['id']}"
    sent = client.put(
        url, content=data, headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
    )
    assert sent.json()["done"] is True, sent.text
    made = client.post("/api/v1/jobs", json={"upload_id": upload.json()["id"]}).json()
    view = web.wait_for(made["id"], ("done", "failed"), within=240, headers=client.headers)
    assert view["status"] == "done", view
    job_id: int = made["id"]
    return job_id


def _all_files(client: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(f"/api/v1/jobs/{job_id}/files", params={"offset": offset}).json()
        assert page["offset"] == offset
        files += page["files"]
        offset = page["next_offset"]
    return files


def test_a_views_first_page_and_the_next_pages_with_totals_and_working_links(
    tmp_path: Path,
) -> None:
    token, hashed = new_token()
    bearer = {"Authorization": f"Bearer {token}"}
    env = {"FERRYMAN_WEB__TOKENS": json.dumps([hashed]), "FERRYMAN_WEB__LINK_TTL": "20"}
    with running_web(tmp_path / "data", **env) as web, web.client(headers=bearer) as client:
        job_id = _job_of_photos(web, client, tmp_path, 130)
        result = client.get(f"/api/v1/jobs/{job_id}").json()["result"]
        assert len(result["files"]) == PAGE and result["files_total"] == 130
        assert result["offset"] == 0 and result["next_offset"] == PAGE

        second = client.get(f"/api/v1/jobs/{job_id}/files?offset=60&limit=60").json()
        assert len(second["files"]) == 60 and second["next_offset"] == 120
        last = client.get(f"/api/v1/jobs/{job_id}/files?offset=120&limit=60").json()
        assert len(last["files"]) == 10 and last["next_offset"] is None
        files = result["files"] + second["files"] + last["files"]
        names = [f["name"] for f in files]
        assert len(set(names)) == 130 and {n for n in names if n.endswith(".jpg")} == set(names)
        assert [f["name"] for f in _all_files(client, job_id)] == names
        assert last["files_total"] == 130 and last["zip"]["url"].startswith("/d/")
        assert last["bytes_total"] == result["bytes_total"] == sum(f["size"] for f in files)
        beyond = client.get(f"/api/v1/jobs/{job_id}/files?offset=500").json()
        assert beyond["files"] == [] and beyond["next_offset"] is None

        for file in (last["files"][-1], second["files"][0]):  # links of later pages work
            got = client.get(file["url"])
            assert got.status_code == 200 and len(got.content) == file["size"]
            assert got.content[:2] == b"\xff\xd8"
            preview = client.get(file["preview"])
            assert preview.headers["content-type"] == "image/webp"

        # Re-signed past half their life: test_a_pages_links_are_signed_again_past_half_their_life.
        renewed = client.post(f"/api/v1/jobs/{job_id}/links?offset=60&limit=5").json()
        assert [f["name"] for f in renewed["files"]] == names[60:65]
        assert renewed["next_offset"] == 65 and renewed["files_total"] == 130
        assert len(client.post(f"/api/v1/jobs/{job_id}/links").json()["files"]) == 130

        for bad in ("limit=0", "limit=1001", "offset=-1"):
            refused = client.get(f"/api/v1/jobs/{job_id}/files?{bad}")
            assert refused.status_code == 422, bad
            assert refused.json()["error"]["code"] == "request.invalid"
        assert client.get("/api/v1/jobs/999999/files").status_code == 404
        with web.client() as anonymous:
            refused = anonymous.get(f"/api/v1/jobs/{job_id}/files")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "auth.required"
        described = client.get("/api/openapi.json").json()
        answer = described["paths"]["/api/v1/jobs/{job_id}/files"]["get"]["responses"]["200"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/FilesPage")
        assert "next_offset" in described["components"]["schemas"]["FilesPage"]["properties"]


def test_every_live_message_of_a_job_of_200_files_stays_small(tmp_path: Path) -> None:
    with running_web(tmp_path / "data") as web, web.client() as client:
        job_id = _job_of_photos(web, client, tmp_path, 200)
        epoch = client.get("/api/v1/events/poll", params={"after": 0}).json()["epoch"]

        def done_with_files() -> tuple[list[Any], list[Any]] | None:
            told = client.get("/api/v1/events/poll", params={"after": 0, "epoch": epoch}).json()
            views = [m for m in told["messages"] if m["type"] == "job" and m["job"]["id"] == job_id]
            with_files = [m for m in views if m["job"]["result"]["files"]]
            done = with_files and with_files[-1]["job"]["status"] == "done"
            return (views, with_files) if done else None

        # the stream sends the done view up to a flush after the API shows it
        views, with_files = eventually_sync(
            done_with_files, "the done view with its files", within=30, every=0.2
        )
        sizes = [len(json.dumps(m)) for m in views]
        assert max(sizes) < MESSAGE_BOUND, sizes
        done = with_files[-1]
        assert done["job"]["result"]["files_total"] == 200
        # The same message as it was before pages: every file's links in each.
        whole = {**done["job"], "result": {**done["job"]["result"]}}
        whole["result"]["files"] = _all_files(client, job_id)
        assert len(json.dumps({**done, "job": whole})) > 2 * MESSAGE_BOUND


async def test_a_pages_links_are_signed_again_past_half_their_life(
    tmp_path: Path, settings: Settings
) -> None:
    """``GET …/files`` keeps a page's links while they are young and signs them again
    once past half their life, as the view's are; the new ones work. The app in this
    process, its clock moved (it was a child and a sleep of half a link's life). Its wall
    time alone: the app's tracker polls the store each second of the clock's monotonic
    time and composes the job's view, which signs too, so a poll woken by an advance
    between half life and the request signed first (at half life, not at the request:
    4 runs in 30 under load), and the request got those links."""
    clock = ManualClock(start=time.time())
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"link_ttl": 20.0})}
    )
    make_photo_set(tmp_path / "in", 3)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, tmp_path / "in", dest="link:", settings=settings)
        await run_until_idle(store, settings)
        async with (
            web_app(settings, store, None, None, clock=clock) as served,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
            ) as client,
        ):
            url = f"/api/v1/jobs/{job.id}/files"
            (first, *_) = (await client.get(url)).json()["files"]
            assert first["expires_at"] == clock.now() + 20.0
            clock.set_wall(clock.now() + 9.0)  # young still: the same links
            assert (await client.get(url)).json()["files"][0] == first
            clock.set_wall(clock.now() + 1.5)  # past half its life
            again = (await client.get(url)).json()["files"][0]
            assert again["name"] == first["name"] and again["expires_at"] > first["expires_at"]
            assert again["expires_at"] == clock.now() + 20.0
            assert (await client.get(again["url"])).status_code == 200
    finally:
        await store.close()
