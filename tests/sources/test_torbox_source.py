"""Torbox items through the whole engine, against a fake Torbox API (``mylist``,
``requestdl``) whose CDN is the fault server: every media file once, a link that
expires mid-read renewed at the same offset, the API's words in every error, waits for
unfinished items, and the API called at most 300 times a minute."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings, TorboxSettings
from ferryman.engine.ops import intake, report
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.net.http import HttpWait
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sources.base import ReadOptions
from ferryman.sources.builtin import default_sources
from ferryman.sources.http import HttpSource
from ferryman.sources.torbox import RateLimit, Reference, TorboxApi, TorboxSource
from ferryman.store import Store
from tests.support.engine_helpers import library_files
from tests.support.faketorbox import API_KEY, FakeTorbox, torbox_serving
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import eventually


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cdn() -> Iterator[FaultServer]:
    with serving() as server:
        yield server


@pytest.fixture
def torbox(cdn: FaultServer) -> Iterator[FakeTorbox]:
    with torbox_serving(cdn) as fake:
        yield fake


@pytest.fixture
def tb_settings(settings: Settings, torbox: FakeTorbox) -> Settings:
    return settings.model_copy(
        update={
            "torbox": TorboxSettings(api_key=API_KEY, api_base=torbox.base),
            "network": settings.network.model_copy(
                update={"stall_seconds": 3.0, "recheck_seconds": 0.5}
            ),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


def _media(tmp: Path) -> list[tuple[str, bytes, str]]:
    photos = make_photo_set(tmp / "p", 4, size=(160, 120))
    video = make_video(tmp / "clip.mp4", 5, seconds=0.6)
    inner = make_photo_set(tmp / "z", 2, start_seed=40, size=(96, 72))
    packed = make_zip(tmp / "extra.zip", [(p.name, p) for p in inner], compress=False)
    return [
        *[(f"Photos/{p.name}", p.read_bytes(), "image/jpeg") for p in photos],
        ("Video/clip.mp4", video.read_bytes(), "video/mp4"),
        ("extra.zip", packed.read_bytes(), "application/zip"),
        ("info.nfo", b"release notes\n", "text/plain"),
        *[(f"extra.zip:{p.name}", p.read_bytes(), "-") for p in inner],  # expected only
    ]


async def _run(settings: Settings, uri: str, limit: float = 120) -> tuple[int, Store]:
    store = await Store.open(settings.database)
    job = await intake.add_source(store, uri, settings=settings)
    await asyncio.wait_for(Engine(store, settings).run(until_idle=True), limit)
    return job.id, store


async def test_a_torrent_is_read_file_by_file_and_every_media_file_delivered_once(
    tmp_path: Path, torbox: FakeTorbox, cdn: FaultServer, tb_settings: Settings
) -> None:
    files = _media(tmp_path)
    served = [f for f in files if f[2] != "-"]
    torbox.add("torrent", 41, "Holiday 2026", served)
    job_id, store = await _run(tb_settings, "torbox:torrent/41")
    try:
        done = await store.get_job(job_id)
        summary = await report.report(store, job_id)
        fetched = await store.fetched(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    delivered = sorted(e["disk_sha256"] for e in library_files(tb_settings.library))
    media = [f for f in files if f[2] in ("image/jpeg", "video/mp4", "-")]
    assert delivered == sorted(_digest(data) for _, data, _ in media)
    skipped = [(it["path"], it["reason"]) for it in summary["items"] if it["state"] == "skipped"]
    assert skipped == [("info.nfo", "not media or an archive (text/plain)")]
    assert fetched is not None and fetched.path is None  # nothing stored
    nfo = torbox.cdn_path(
        "torrent", 41, served.index(next(f for f in served if f[0] == "info.nfo"))
    )
    assert cdn.served.get(nfo, 0) == 0  # skipped unread
    assert torbox.calls["mylist"] == 2  # once to check (fetch), once to list (then kept)


async def test_one_file_by_its_id(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    files = [f for f in _media(tmp_path) if f[2] != "-"]
    torbox.add("usenet", 7, "Pack", files)
    job_id, store = await _run(tb_settings, "torbox:usenet/7/4")  # Video/clip.mp4
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert [e["disk_sha256"] for e in library_files(tb_settings.library)] == [_digest(files[4][1])]
    assert sum(torbox.links.values()) == 1


async def test_a_link_that_expires_mid_read_is_renewed_and_resumed(
    tmp_path: Path, torbox: FakeTorbox, cdn: FaultServer, tb_settings: Settings
) -> None:
    video = make_video(tmp_path / "long.mp4", 9, seconds=2.0, size=(320, 240))
    data = video.read_bytes()
    cut = Faults(cut_at=len(data) // 2, cut_times=1, expire_token_on_cut=True)
    torbox.add("webdl", 3, "Clip", [("long.mp4", data, "video/mp4")], faults={"long.mp4": cut})
    job_id, store = await _run(tb_settings, "torbox:webdl/3")
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert [e["disk_sha256"] for e in library_files(tb_settings.library)] == [_digest(data)]
    assert torbox.links[(3, 0)] == 2  # the first link, then a fresh one after the 403
    path = torbox.cdn_path("webdl", 3, 0)
    assert cdn.served[path] <= 1.05 * len(data)  # resumed at the offset, not started over
    statuses = [r.status for r in cdn.requests_for(path)]
    assert 403 in statuses


async def test_a_file_over_several_blocks_expiring_in_its_streamed_part_arrives_whole(
    tmp_path: Path, torbox: FakeTorbox, cdn: FaultServer, tb_settings: Settings
) -> None:
    """A 10 MiB photo: two ranged 4 MiB reads, then the rest in one GET, whose link
    expires at 75 %: renewed there, and the delivered file is the served one, byte for
    byte (such a file once arrived corrupted: the streamed run filled a copy)."""
    import io
    import random

    from PIL import Image

    noise = random.Random(5).randbytes(3900 * 2900 * 3)
    packed = io.BytesIO()
    Image.frombytes("RGB", (3900, 2900), noise).save(packed, "JPEG", quality=92)
    data = packed.getvalue()
    assert len(data) > 9 << 20  # past the two ranged blocks
    cut = Faults(cut_at=3 * len(data) // 4, cut_times=1, expire_token_on_cut=True)
    torbox.add("torrent", 12, "Big", [("big.jpg", data, "image/jpeg")], faults={"big.jpg": cut})
    job_id, store = await _run(tb_settings, "torbox:torrent/12")
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert [e["disk_sha256"] for e in library_files(tb_settings.library)] == [_digest(data)]
    assert torbox.links[(12, 0)] == 2
    assert cdn.served[torbox.cdn_path("torrent", 12, 0)] <= 1.05 * len(data)


async def test_a_bad_key_fails_with_torbox_auth_and_the_apis_words(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    torbox.add("torrent", 1, "X", [("a.jpg", b"\xff\xd8\xff" + b"1" * 50, "image/jpeg")])
    bad = tb_settings.model_copy(
        update={"torbox": TorboxSettings(api_key="wrong", api_base=torbox.base)}
    )
    job_id, store = await _run(bad, "torbox:torrent/1")
    try:
        done = await store.get_job(job_id)
        summary = await report.report(store, job_id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "torbox.auth")
    assert "Invalid API token" in (done.error_message or "")  # Torbox's own detail
    assert "torbox.api_key" in summary["error"]["next"]
    assert "wrong" not in (done.error_message or "")


async def test_an_unknown_item_or_file_is_torbox_not_found(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    torbox.add("torrent", 2, "Y", [("a.jpg", b"\xff\xd8\xff" + b"1" * 50, "image/jpeg")])
    store = await Store.open(tb_settings.database)
    try:
        missing = await intake.add_source(store, "torbox:torrent/999", settings=tb_settings)
        no_file = await intake.add_source(store, "torbox:torrent/2/5", settings=tb_settings)
        await asyncio.wait_for(Engine(store, tb_settings).run(until_idle=True), 60)
        ends = [await store.get_job(j.id) for j in (missing, no_file)]
    finally:
        await store.close()
    assert [(j.state, j.error_code) for j in ends] == [(JobState.FAILED, "torbox.not_found")] * 2
    assert "Item not found" in (ends[0].error_message or "")


async def test_an_unfinished_item_waits_and_goes_once_torbox_has_it(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    photo = make_photo_set(tmp_path / "p", 1)[0].read_bytes()
    item = torbox.add("torrent", 5, "Later", [("a.jpg", photo, "image/jpeg")], finished=False)
    store = await Store.open(tb_settings.database)
    engine = Engine(store, tb_settings)
    try:
        job = await intake.add_source(store, "torbox:torrent/5", settings=tb_settings)
        running = asyncio.create_task(engine.run(until_idle=True))

        async def waiting() -> bool:
            return (await store.get_job(job.id)).wait_reason == "torbox.not_ready"

        await eventually(waiting, "the job waits for Torbox", within=30)
        assert not running.done()
        item.finished = True
        await asyncio.wait_for(running, 60)
        done = await store.get_job(job.id)
        fetch = await store.fetched(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert fetch is not None and fetch.attempts == 0  # waiting was never counted
    assert [e["disk_sha256"] for e in library_files(tb_settings.library)] == [_digest(photo)]


def test_references_are_read_strictly() -> None:
    sources = default_sources()
    assert sources.to_uri("torbox:TORRENT/12/3") == "torbox:torrent/12/3"
    assert sources.to_uri(" torbox:webdl/8 ") == "torbox:webdl/8"
    assert Reference.parse("torbox:usenet/4") == Reference("usenet", 4, None)
    for bad in ("torbox:torrent/x", "torbox:magnet/1", "torbox:torrent"):
        with pytest.raises(FerrymanError) as refused:
            sources.to_uri(bad)
        assert refused.value.code == "link.invalid"


def test_a_pasted_cdn_link_keeps_its_token_whole() -> None:
    link = "https://store-031.weur.tb-cdn.st/zip/8c1f?token=ab-CD_12&x=1"
    assert HttpSource().recognise(link) == link
    assert "ab-CD_12" not in HttpSource().describe(link)


def test_the_rate_limit_holds_300_calls_in_any_minute() -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limit = RateLimit(300, clock=lambda: now[0], sleep=sleep)
    for _ in range(300):
        now[0] += 0.01  # a burst: 300 calls in 3 s
        limit.wait()
    assert slept == []
    limit.wait()  # the 301st waits until the first leaves the window
    assert len(slept) == 1 and slept[0] == pytest.approx(60 - 2.99, abs=0.02)
    assert limit.sent_within(60) <= 300


class _FakeClock:
    """A clock that moves only when slept on: waits are measured, never spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _read_everything(source: TorboxSource, uri: str, settings: Settings) -> list[bytes]:
    options = ReadOptions(network=settings.network, settings=settings)
    with source.open(uri, options) as entries:
        return [b"".join(e.read_blocks()) for e in entries if e.skip is None]


def test_one_limit_per_key_holds_across_every_reading_of_the_source(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """Torbox counts calls per key: two jobs read through one source share a window."""
    photo = b"\xff\xd8\xff" + b"1" * 50
    torbox.add("torrent", 8, "A", [("a.jpg", photo, "image/jpeg")])
    torbox.add("torrent", 9, "B", [("b.jpg", photo, "image/jpeg")])
    three = tb_settings.model_copy(
        update={"torbox": tb_settings.torbox.model_copy(update={"requests_per_minute": 3})}
    )
    clock = _FakeClock()
    source = TorboxSource(clock=clock, sleep=clock.sleep)
    assert _read_everything(source, "torbox:torrent/8", three) == [photo]  # mylist, requestdl
    assert clock.slept == []
    assert _read_everything(source, "torbox:torrent/9", three) == [photo]  # 2 more: 4 > 3
    assert len(clock.slept) == 1 and clock.slept[0] == pytest.approx(60)
    assert source.limit(three).sent_within(60) <= 3
    assert sum(torbox.calls.values()) == 4
    other_key = three.model_copy(
        update={"torbox": three.torbox.model_copy(update={"api_key": "another"})}
    )
    assert source.limit(other_key) is not source.limit(three)  # another account's budget


def test_a_429_waits_its_retry_after_then_the_call_goes_on(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    import httpx

    torbox.add("webdl", 4, "W", [("w.mp4", b"x" * 64, "video/mp4")])
    torbox.throttled, torbox.retry_after = 2, "7"
    clock = _FakeClock()
    limit = RateLimit(300, clock=clock, sleep=clock.sleep)
    with httpx.Client() as client:
        api = TorboxApi(client, tb_settings.torbox, limit, tb_settings.retry)
        item = api.item(Reference("webdl", 4, None))
    assert item["name"] == "W"
    assert clock.slept == [7, 7]  # Retry-After honoured to the second, twice
    assert torbox.calls["mylist"] == 3


def test_a_429_longer_than_retry_max_seconds_goes_back_to_the_engine(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    import httpx

    torbox.add("usenet", 6, "U", [("u.jpg", b"x" * 64, "image/jpeg")])
    torbox.throttled, torbox.retry_after = 1, "3600"
    clock = _FakeClock()
    with httpx.Client() as client:
        api = TorboxApi(
            client, tb_settings.torbox, RateLimit(300, clock, clock.sleep), tb_settings.retry
        )
        with pytest.raises(HttpWait) as waited:
            api.link(Reference("usenet", 6, None), 0)
    assert waited.value.seconds == 3600 and "Slow down." in waited.value.message
    assert clock.slept == []  # not slept here: the engine keeps it as a not_before


def test_config_show_masks_the_api_key(tmp_path: Path) -> None:
    from ferryman.config import load_settings
    from ferryman.config.shown import mask_secrets

    key = "tb-0123-secret"
    shown = mask_secrets(load_settings(None, {"data_dir": tmp_path, "torbox": {"api_key": key}}))
    assert key not in str(shown)
    assert shown["torbox"]["api_key"] == "***"


def test_an_expired_pasted_cdn_link_says_what_lasts_instead() -> None:
    from ferryman.sources.http import _expired_hint

    refused = FerrymanError("source.auth", "HTTP 403 for https://store-031.weur.tb-cdn.st/x")
    hinted = _expired_hint("https://store-031.weur.tb-cdn.st/x?token=t", refused)
    assert hinted.code == "source.auth" and "torbox:torrent/ID" in hinted.message
    elsewhere = _expired_hint("https://example.org/x", refused)
    assert elsewhere is refused


@pytest.mark.slow
def test_sigkill_while_links_expire_loses_and_duplicates_nothing(
    tmp_path: Path, torbox: FakeTorbox, cdn: FaultServer
) -> None:
    """`ferryman run` killed at random moments on a torrent whose CDN links expire in
    the middle of files (several times): every media file once in the library."""
    import random

    from tests.crash.test_crash import _add, _all_terminal, _env, _kill_repeatedly

    photos = make_photo_set(tmp_path / "p", 150, size=(320, 240))
    videos = [make_video(tmp_path / f"v{n}.mp4", n, seconds=1.0, size=(320, 240)) for n in range(4)]
    files = [(f"Photos/{p.name}", p.read_bytes(), "image/jpeg") for p in photos]
    files += [(f"Video/{v.name}", v.read_bytes(), "video/mp4") for v in videos]
    faults = {
        path: Faults(cut_at=len(data) // 2, cut_times=2, expire_token_on_cut=True)
        for path, data, _ in files[::10]
    }
    torbox.add("torrent", 77, "Big trip", files, faults=faults)
    data = tmp_path / "data"
    env = _env(
        data,
        FERRYMAN_LEASE_SECONDS="1",
        FERRYMAN_TORBOX__API_KEY=API_KEY,
        FERRYMAN_TORBOX__API_BASE=torbox.base,
        FERRYMAN_RETRY__BASE_SECONDS="0.05",
    )
    _add(["torbox:torrent/77"], env)  # type: ignore[list-item]
    _kill_repeatedly(env, random.Random(77), (0.05, 0.9), wanted=4, most=8)

    delivered = sorted(f["disk_sha256"] for f in library_files(data / "library"))
    assert delivered == sorted(_digest(d) for _, d, _ in files)  # every file, exactly once
    assert _all_terminal(data / "ferryman.db")
    assert sum(torbox.links.values()) >= len(faults)  # expired links were renewed


def test_a_429_waited_out_in_place_is_said_while_it_lasts(
    torbox: FakeTorbox, tb_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Up to ``retry.max_seconds`` (10 min) a Retry-After is waited out in the call:
    `ferryman run` showed nothing meanwhile; it is said, with the wait."""
    import httpx

    torbox.add("webdl", 4, "W", [("w.mp4", b"x" * 64, "video/mp4")])
    torbox.throttled, torbox.retry_after = 1, "300"
    clock = _FakeClock()
    limit = RateLimit(300, clock=clock, sleep=clock.sleep)
    with caplog.at_level("WARNING"), httpx.Client() as client:
        TorboxApi(client, tb_settings.torbox, limit, tb_settings.retry).item(
            Reference("webdl", 4, None)
        )
    assert clock.slept == [300]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("(HTTP 429)" in m and "300 s" in m for m in said), said
