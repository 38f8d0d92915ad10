"""Links through the whole engine: added, fetched (resumably, with its own stage),
read like a local input, delivered; a page, a missing file and a cancel mid-download."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine import control, intake, report
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.engine_helpers import library_files
from tests.httpserve import Faults, FaultServer, serving
from tests.waiting import eventually


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


@pytest.fixture
def link_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "network": settings.network.model_copy(update={"stall_seconds": 2.0}),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


def _zip_of_photos(tmp: Path, count: int) -> tuple[bytes, dict[str, str]]:
    photos = make_photo_set(tmp / "photos", count)
    archive = make_zip(tmp / "trip.zip", [(p.name, p) for p in photos], compress=False)
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    return archive.read_bytes(), made


async def _run(store: Store, settings: Settings) -> None:
    await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)


async def test_a_zip_link_is_fetched_and_delivered_even_when_the_connection_is_cut(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    data, made = _zip_of_photos(tmp_path, 12)
    server.add("/dl/trip.zip", data, content_type="application/zip")
    server.resources["/dl/trip.zip"].faults = Faults(cut_at=len(data) // 2)
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.url("/dl/trip.zip"))
        assert job.source.startswith("http://127.0.0.1") and job.name == "trip"
        await _run(store, link_settings)
        done = await store.get_job(job.id)
        data_report = await report.report(store, job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert data_report["delivered"] == 12
    delivered = {
        Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(link_settings.library)
    }
    assert delivered == made  # every photo once, byte-exact
    assert server.served["/dl/trip.zip"] <= 1.05 * len(data)  # resumed, not fetched again
    assert not (link_settings.work_dir / f"job-{job.id:05d}").exists()  # the copy is gone


async def test_a_web_page_is_refused_with_a_code(
    link_settings: Settings, server: FaultServer
) -> None:
    server.add("/page", b"<!doctype html><html><body>hi</body></html>", content_type="text/html")
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.url("/page"))
        await _run(store, link_settings)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "link.unsupported")


async def test_a_missing_file_fails_the_job_at_once(
    link_settings: Settings, server: FaultServer
) -> None:
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.base + "/nothing.zip")
        await _run(store, link_settings)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.not_found")
    assert len(server.requests_for("/nothing.zip")) <= 2  # a probe, maybe a GET: no retries


async def test_cancel_stops_a_download_in_flight(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    data, _ = _zip_of_photos(tmp_path, 4)
    server.add("/slow.zip", data, content_type="application/zip")
    server.resources["/slow.zip"].faults = Faults(stall_at=len(data) // 2, stall_seconds=30)
    settings = link_settings.model_copy(
        update={
            "network": link_settings.network.model_copy(update={"stall_seconds": 60.0}),
            "lease_seconds": 3.0,  # the housekeeper removes an ended job's folder a lease after
        }
    )
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    running = asyncio.create_task(engine.run())
    try:
        job = await intake.add_source(store, server.url("/slow.zip"))
        await eventually(
            lambda: server.served["/slow.zip"] >= len(data) // 2, "half the zip was sent"
        )
        await control.cancel_job(store, job.id)
        fetched = await store.fetched(job.id)
        assert fetched is not None and fetched.state == "cancelled"
        await eventually(
            lambda: not (settings.work_dir / f"job-{job.id:05d}").exists(),
            "the cancelled job's work folder removed",
        )
        assert (await store.get_job(job.id)).state is JobState.CANCELLED
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


def test_links_are_described_without_their_secrets() -> None:
    from ferryman.sources.builtin import default_sources

    registry = default_sources()
    uri = registry.to_uri(" <https://ann:pw@store-12.eu.tb-cdn.st/dl/x.zip?token=abc#frag> ")
    assert uri == "https://ann:pw@store-12.eu.tb-cdn.st/dl/x.zip?token=abc"  # kept whole
    shown = registry.describe(uri)
    assert shown == "https://store-12.eu.tb-cdn.st/dl/x.zip?…"
    assert "pw" not in shown and "abc" not in shown
