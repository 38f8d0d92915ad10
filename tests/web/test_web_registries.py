"""The web API takes the kinds its registries know, and only those: a source and a sink
added by a test (``memsource``, ``memsink``: one module each, nothing else edited) are
accepted, run and delivered; the default registries refuse them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo_set
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.store.memory.store import MemoryStore
from ferryman.web.server import web_app
from tests.support.memsink import MemKind
from tests.support.memsource import MemSource


def _photos(folder: Path, n: int) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in make_photo_set(folder, n)}


async def test_a_registered_source_and_sink_are_accepted_by_the_web_api_and_delivered(
    tmp_path: Path, settings: Settings
) -> None:
    photos = _photos(tmp_path / "p", 3)
    mem = MemKind(album_max=10)
    sources = default_sources().with_source(MemSource({"trip": photos}))
    sinks = default_sinks().with_kind(mem)
    store = MemoryStore()  # the web's doors, not the database's
    try:
        engine = Engine(store, settings, sources=sources, sinks=sinks)
        async with (
            web_app(settings, store, engine.bus, lambda: True, sources=sources, sinks=sinks) as s,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=s.app), base_url="http://127.0.0.1"
            ) as client,
        ):
            answer = await client.post(
                "/api/v1/jobs", json={"source": "mem:trip", "deliver": {"to": "mem"}}
            )
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["id"]
            chat = await client.post(
                "/api/v1/jobs",
                json={"source": "mem:trip", "deliver": {"to": "mem", "chat": "other"}},
            )
            assert chat.status_code == 202, chat.text  # a kind's own target from a client
            await asyncio.wait_for(engine.run(until_idle=True), 120)
            view = (await client.get(f"/api/v1/jobs/{job_id}")).json()
            job = await store.get_job(job_id)
    finally:
        await store.close()
    assert (job.source, job.dest) == ("mem:trip", "mem:box")
    assert view["status"] == "done", view
    delivered = sorted(f.source_path for a in mem.albums.values() for f in a.files)
    assert delivered == sorted([*photos, *photos])  # each job's photos, once each
    assert {a.target for a in mem.albums.values()} == {"box", "other"}


async def test_the_default_registries_refuse_what_they_do_not_know(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()  # the web's doors, not the database's
    try:
        async with (
            web_app(settings, store, None, None) as served,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
            ) as client,
        ):
            source = await client.post("/api/v1/jobs", json={"source": "mem:trip"})
            sink = await client.post(
                "/api/v1/jobs",
                json={"source": "https://example.org/a.zip", "deliver": {"to": "mem"}},
            )
            chat = await client.post(
                "/api/v1/jobs",
                json={
                    "source": "https://example.org/a.zip",
                    "deliver": {"to": "library", "chat": "x"},
                },
            )
            target = await client.post(  # link: takes one target: telegram
                "/api/v1/jobs",
                json={
                    "source": "https://example.org/a.zip",
                    "deliver": {"to": "link", "chat": "x"},
                },
            )
            jobs = (await client.get("/api/v1/jobs")).json()["jobs"]
    finally:
        await store.close()
    assert source.status_code == 400 and source.json()["error"]["code"] == "link.invalid"
    assert sink.status_code == 422 and sink.json()["error"]["code"] == "request.invalid"
    assert "library, link, telegram" in sink.json()["error"]["message"]
    said = chat.json()["error"]["message"]
    assert chat.status_code == 422 and "deliver.to = link or telegram" in said
    assert target.status_code == 400 and target.json()["error"]["code"] == "sink.unknown"
    assert "use link: or link:telegram" in target.json()["error"]["message"]
    assert jobs == []
