"""A user's own work never meets the rate limit: an upload's pieces and its status are
outside the per-minute budget, several jobs are retried or removed in one request, and
an upload the page left mid-file is deleted after ``web.upload_expiry``. The app in
process (httpx's ASGI transport, from 127.0.0.1) over the memory store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store import Store
from ferryman.web.server import web_app
from ferryman.web.uploads import Uploads
from tests.support.contract import memory_store
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _with_web(settings: Settings, **web: object) -> Settings:
    return settings.model_copy(update={"web": settings.web.model_copy(update=web)})


@asynccontextmanager
async def _client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        web_app(settings, store, EventBus(), lambda: True) as served,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=served.app, client=("127.0.0.1", 5000)),
            base_url="http://127.0.0.1",
        ) as client,
    ):
        yield client


async def test_an_upload_of_many_pieces_completes_under_a_low_rate_limit(
    settings: Settings, store: Store
) -> None:
    """10 requests a minute; 40 pieces, each followed by a look at the upload (what a
    page that lost its connection does): 80 requests beyond the start, none refused.
    The budget still holds for the rest of the API."""
    data = os.urandom(40 * 4096)
    async with _client(_with_web(settings, rate_limit=10), store) as client:
        made = await client.post("/api/v1/uploads", json={"name": "big.bin", "size": len(data)})
        assert made.status_code == 201, made.text
        url = f"/api/v1/uploads/{made.json()['id']}"
        for start in range(0, len(data), 4096):
            end = start + 4096
            piece = await client.put(
                url,
                content=data[start:end],
                headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"},
            )
            assert piece.status_code == 200, (start, piece.text)
            look = await client.get(url)
            assert look.status_code == 200, (start, look.text)
            assert look.json()["offset"] == end
        assert look.json()["done"] is True
        answers = [(await client.get("/api/v1/jobs")).status_code for _ in range(10)]
        assert 429 in answers  # the start counted; the rest of the API is still limited
        assert answers[:9] == [200] * 9


async def _failed_jobs(store: Store, count: int) -> list[int]:
    broken = FerrymanError("archive.unreadable", "not a zip")
    return [
        (
            await store.add_job(
                source=f"file:///in/{n}.zip", name=f"{n}.zip", dest="link:", error=broken
            )
        ).id
        for n in range(count)
    ]


async def test_retry_and_remove_of_150_jobs_are_one_request_each(
    settings: Settings, store: Store
) -> None:
    """Under the default limit (120 a minute): one request per job met it past 120."""
    ids = await _failed_jobs(store, 150)
    async with _client(settings, store) as client:
        retried = await client.post("/api/v1/jobs/bulk", json={"action": "retry", "ids": ids})
        assert retried.status_code == 200, retried.text
        assert retried.json()["done"] == ids and retried.json()["refused"] == []
        assert {j.state for j in await store.list_jobs()} == {JobState.QUEUED}
        # Queued now: not ended, so not removed; each says why, none stops the others.
        again = await _failed_jobs(store, 150)
        removed = await client.post(
            "/api/v1/jobs/bulk", json={"action": "remove", "ids": [ids[0], *again]}
        )
        assert removed.status_code == 200, removed.text
        assert removed.json()["done"] == again
        (left,) = removed.json()["refused"]
        assert left["id"] == ids[0] and left["error"]["code"] == "job.not_ended"
        assert sorted(j.id for j in await store.list_jobs()) == ids
        too_many = await client.post(
            "/api/v1/jobs/bulk", json={"action": "remove", "ids": list(range(1, 1002))}
        )
        assert too_many.status_code == 422, too_many.text
        assert too_many.json()["error"]["code"] == "request.invalid"
        spec = (await client.get("/api/openapi.json")).json()
        assert "/api/v1/jobs/bulk" in spec["paths"]


async def test_an_upload_left_mid_file_is_deleted_after_the_expiry(
    settings: Settings, store: Store
) -> None:
    """The housekeeping deletes an unfinished upload untouched for web.upload_expiry;
    a finished one (a job's input) and a fresh unfinished one stay."""
    root = settings.data_dir / "uploads"
    uploads = Uploads(root, 0)
    left = uploads.create("left.zip", 100)
    finished = uploads.create("done.zip", 0)
    fresh = uploads.create("going.zip", 100)
    past = os.stat(root).st_mtime - 3600
    for upload in (left, finished):
        for path in (upload.path, upload.path.parent / "upload.json", upload.path.parent):
            os.utime(path, (past, past))
    async with _client(_with_web(settings, upload_expiry=600.0), store):

        def gone() -> bool:
            return not left.path.parent.exists()

        await eventually(gone, "the abandoned upload deleted")
    assert finished.path.exists() and fresh.path.exists()
    assert uploads.sweep(10 * 86400, abandoned=600.0) == 0


def test_the_sweep_tells_an_unfinished_upload_from_a_finished_one(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path, 0)
    left = uploads.create("left.zip", 10)
    done = uploads.create("done.zip", 0)
    later = os.stat(left.path).st_mtime + 700
    assert uploads.sweep(86400, later, abandoned=600) == 1
    assert not left.path.exists() and done.path.exists()
    assert uploads.sweep(600, later) == 1  # past the retention: a finished one goes too
