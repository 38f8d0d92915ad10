"""Magnets and ``.torrent`` files through Real-Debrid, AllDebrid, Premiumize and
Debrid-Link, against fakes of their documented APIs (``tests/support/fakedebrid``):
added once, polled through each service's states, delivered into a library (a zip
among the files read in place), a link that expires or is withdrawn mid-read unlocked
again, each service's refusals as ferryman's codes with its own words, its 429s and its
calls a minute kept on an injected clock."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.config.debrid import DebridSettings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing import chosen
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sources.debrid.base import api_client, chosen_service
from ferryman.sources.debrid.services import make_service
from ferryman.sources.torbox import RateLimit
from ferryman.store import Store
from tests.support.engine_helpers import library_files, run_until_waiting
from tests.support.fakedebrid import KEY, FakeDebrid, Torrent, debrid_serving, torrent_file
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import eventually

KINDS = ["realdebrid", "alldebrid", "premiumize", "debridlink"]
HASH = "c9e15763f722f23e98a29decdfae341b98d53056"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Trip%202024&tr=udp%3A%2F%2Ftracker.example%3A80"
UNLOCKS = ("realdebrid", "alldebrid", "premiumize")  # Debrid-Link lists its links instead


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cdn() -> Iterator[FaultServer]:
    with serving() as server:
        yield server


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest, cdn: FaultServer) -> Iterator[FakeDebrid]:
    with debrid_serving(request.param, cdn) as served:
        yield served


def with_service(settings: Settings, fake: FakeDebrid, key: str = KEY, **more: object) -> Settings:
    account = {"api_key": key, "api_base": fake.api_base, **more}
    return settings.model_copy(
        update={
            "debrid": DebridSettings.model_validate({fake.kind: account}),
            "network": settings.network.model_copy(
                update={"stall_seconds": 3.0, "recheck_seconds": 0.2}
            ),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


def trip(tmp: Path, polls: int = 0) -> tuple[Torrent, list[str]]:
    """Three photos, a stored zip of two more, a text file: the torrent and the hashes
    of the media a library should get."""
    photos = make_photo_set(tmp / "p", 3, size=(120, 90))
    inner = make_photo_set(tmp / "z", 2, start_seed=40, size=(96, 72))
    packed = make_zip(tmp / "more.zip", [(p.name, p) for p in inner], compress=False)
    files = [(f"Trip 2024/{p.name}", p.read_bytes(), "image/jpeg") for p in photos]
    files += [("Trip 2024/more.zip", packed.read_bytes(), "application/zip")]
    files += [("Trip 2024/info.nfo", b"release notes\n", "text/plain")]
    wanted = [_digest(p.read_bytes()) for p in [*photos, *inner]]
    return Torrent("Trip 2024", files, polls=polls), sorted(wanted)


async def run_one(settings: Settings, raw: str, **options: object) -> Job:
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, raw, settings=settings, **options)  # type: ignore[arg-type]
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 90)
        return await store.get_job(job.id)
    finally:
        await store.close()


def delivered(settings: Settings) -> list[str]:
    return sorted(e["disk_sha256"] for e in library_files(settings.library))


async def test_a_magnet_is_added_once_polled_until_ready_and_delivered(
    tmp_path: Path, fake: FakeDebrid, settings: Settings
) -> None:
    torrent, wanted = trip(tmp_path, polls=2)
    fake.swarm[HASH] = torrent
    ours = with_service(settings, fake)
    done = await run_one(ours, MAGNET)
    assert (done.state, done.name) == (JobState.DONE, "Trip 2024"), done.error_message
    assert delivered(ours) == wanted  # the zip's photos read in place with the rest
    assert fake.added() == 1
    (item,) = fake.items.values()
    assert item.polls_left == 0  # it was polled through its states
    if fake.kind in UNLOCKS:
        assert fake.unlocked[(item.id, 4)] == 0  # the .nfo, not media: never unlocked
        assert all(fake.unlocked[(item.id, n)] == 1 for n in range(4))


async def test_a_torrent_file_is_uploaded_and_is_the_same_input_as_its_magnet(
    tmp_path: Path, fake: FakeDebrid, settings: Settings
) -> None:
    torrent, wanted = trip(tmp_path)
    data, digest = torrent_file(torrent)
    fake.uploads[data] = digest
    fake.swarm[digest] = torrent
    path = tmp_path / "Trip 2024.torrent"
    path.write_bytes(data)
    ours = with_service(settings, fake)
    done = await run_one(ours, str(path))
    assert (done.state, done.name) == (JobState.DONE, "Trip 2024"), done.error_message
    assert done.source.startswith("torrent:///")
    assert delivered(ours) == wanted
    assert fake.added() == 1 and fake.items[next(iter(fake.items))].src in ("file", "")
    store = await Store.open(ours.database)
    try:
        with pytest.raises(FerrymanError) as again:
            await intake.add_source(store, f"magnet:?xt=urn:btih:{digest}", settings=ours)
    finally:
        await store.close()
    assert again.value.code == "source.duplicate"


async def test_an_expired_or_withdrawn_link_is_unlocked_again_and_the_read_goes_on(
    tmp_path: Path, fake: FakeDebrid, cdn: FaultServer, settings: Settings
) -> None:
    video = make_video(tmp_path / "long.mp4", 9, seconds=2.0, size=(320, 240)).read_bytes()
    photo = make_photo_set(tmp_path / "p", 1, size=(200, 150))[0].read_bytes()
    faults = {
        "Clip/long.mp4": Faults(cut_at=len(video) // 2, cut_times=1, expire_token_on_cut=True),
        "Clip/a.jpg": Faults(status=404, status_times=1),  # withdrawn: 404 once
    }
    fake.swarm[HASH] = Torrent(
        "Clip", [("Clip/a.jpg", photo, "image/jpeg"), ("Clip/long.mp4", video, "video/mp4")],
        faults=faults,
    )  # fmt: skip
    ours = with_service(settings, fake)
    done = await run_one(ours, MAGNET)
    assert done.state is JobState.DONE, done
    assert delivered(ours) == sorted([_digest(video), _digest(photo)])
    (item,) = fake.items.values()
    assert cdn.served[item.paths[1]] <= 1.05 * len(video)  # resumed, not started over
    assert 403 in [r.status for r in cdn.requests_for(item.paths[1])]
    assert 404 in [r.status for r in cdn.requests_for(item.paths[0])]
    if fake.kind in UNLOCKS:
        assert fake.unlocked[(item.id, 0)] == 2 and fake.unlocked[(item.id, 1)] == 2


async def test_a_stopped_engine_polls_the_same_item_after_and_never_adds_it_twice(
    tmp_path: Path, fake: FakeDebrid, settings: Settings
) -> None:
    torrent, wanted = trip(tmp_path, polls=10_000)
    fake.swarm[HASH] = torrent
    ours = with_service(settings, fake)
    store = await Store.open(ours.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=ours)
        engine = Engine(store, ours)
        running = asyncio.create_task(engine.run())

        async def waiting() -> bool:
            return (await store.get_job(job.id)).wait_reason == "debrid.not_ready"

        await eventually(waiting, "the job waits for the service", within=30)
        engine.stop()
        await asyncio.wait_for(running, 30)
        (item,) = fake.items.values()
        item.polls_left = 0
        item.hash = "0" * 40  # a search by hash finds nothing now: only the kept id leads
        await asyncio.wait_for(Engine(store, ours).run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert fake.added() == 1
    assert delivered(ours) == wanted


async def test_only_the_chosen_files_are_unlocked_and_delivered(
    tmp_path: Path, cdn: FaultServer, settings: Settings
) -> None:
    with debrid_serving("realdebrid", cdn) as fake:
        torrent, _ = trip(tmp_path)
        fake.swarm[HASH] = torrent
        ours = with_service(settings, fake)
        pick = torrent.files[1]
        memos = chosen.memo_of([pick[0].removeprefix("Trip 2024/")])
        done = await run_one(ours, MAGNET, memos=memos)
        (item,) = fake.items.values()
    assert done.state is JobState.DONE, done
    assert delivered(ours) == [_digest(pick[1])]
    # The chosen photo once; the other photos and the text never: a file is unlocked
    # only when read (the zip is, to list what it holds).
    assert [fake.unlocked[(item.id, n)] for n in (0, 1, 2, 4)] == [0, 1, 0, 0]


SAID = {
    "realdebrid": ("bad_token", "magnet_error", "torrent_file_invalid"),
    "alldebrid": ("AUTH_BAD_APIKEY", "no peer", "MAGNET_INVALID_FILE"),
    "premiumize": ("Not logged in", "error", "Invalid magnet or torrent file"),
    "debridlink": ("badToken", "status 9", "notAddTorrent"),
}


async def test_each_services_refusals_are_ferrymans_codes_with_its_own_words(
    tmp_path: Path, fake: FakeDebrid, settings: Settings
) -> None:
    bad_key, gave_up, bad_file = SAID[fake.kind]
    refused = await run_one(with_service(settings, fake, key="wrong"), MAGNET)
    assert (refused.state, refused.error_code) == (JobState.FAILED, "debrid.auth")
    assert bad_key in (refused.error_message or "") and "wrong" not in str(refused.error_message)

    ours = with_service(settings, fake)
    lost = f"magnet:?xt=urn:btih:{'ab' * 20}&dn=nobody"  # no swarm has it
    dead = await run_one(ours, lost)
    assert (dead.state, dead.error_code) == (JobState.FAILED, "debrid.failed")
    assert gave_up in (dead.error_message or "")

    data, _ = torrent_file(Torrent("Unknown", [("x.jpg", b"\xff\xd8\xff", "image/jpeg")]))
    path = tmp_path / "unknown.torrent"
    path.write_bytes(data)  # a well-formed torrent the service will not take
    no = await run_one(ours, str(path))
    assert (no.state, no.error_code) == (JobState.FAILED, "debrid.refused")
    assert bad_file in (no.error_message or "")


class _Clock:
    """Moves only when slept on: waits are measured, never spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_waits_its_retry_after_then_the_call_goes_on(
    fake: FakeDebrid, settings: Settings
) -> None:
    fake.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
    ours = with_service(settings, fake)
    clock = _Clock()
    fake.throttled, fake.retry_after = 2, "7"
    with api_client(ours.network, ours, fake.kind) as client:
        limit = RateLimit(60, clock, clock.sleep)
        item = make_service(fake.kind, client, ours, limit, ours.retry).add_magnet(MAGNET)
    assert clock.slept == [7, 7]  # Retry-After honoured to the second, twice
    assert item in fake.items and fake.added() == 1


def test_the_calls_a_minute_of_each_key_are_kept_whoever_makes_them(
    fake: FakeDebrid, settings: Settings
) -> None:
    from ferryman.sources.magnet import MagnetSource

    fake.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
    ours = with_service(settings, fake, requests_per_minute=3)
    clock = _Clock()
    source = MagnetSource(clock=clock, sleep=clock.sleep)
    limit = source.limit(ours, fake.kind)
    assert source.limit(ours, fake.kind) is limit  # one budget per key, shared
    with api_client(ours.network, ours, fake.kind) as client:
        service = make_service(fake.kind, client, ours, limit, ours.retry)
        item = service.add_magnet(MAGNET)
        for _ in range(3):
            service.status(item)
    assert sum(fake.calls.values()) - fake.added() >= 4
    assert clock.slept and clock.slept[0] == pytest.approx(60)  # the 4th waited a minute
    assert limit.sent_within(60) <= 3


def test_the_service_is_the_settings_or_the_first_with_a_key(settings: Settings) -> None:
    def of(**debrid: object) -> str:
        return chosen_service(
            settings.model_copy(update={"debrid": DebridSettings.model_validate(debrid)})
        )

    with pytest.raises(FerrymanError) as none:
        of()
    assert none.value.code == "debrid.none"
    assert of(premiumize={"api_key": "p"}) == "premiumize"
    assert of(premiumize={"api_key": "p"}, alldebrid={"api_key": "a"}) == "alldebrid"
    assert of(service="debridlink", alldebrid={"api_key": "a"}) == "debridlink"
    torbox = settings.model_copy(
        update={"torbox": settings.torbox.model_copy(update={"api_key": "t"})}
    )
    assert chosen_service(torbox) == "torbox"


def test_an_item_can_be_deleted_from_the_account(fake: FakeDebrid, settings: Settings) -> None:
    fake.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
    ours = with_service(settings, fake)
    clock = _Clock()
    with api_client(ours.network, ours, fake.kind) as client:
        service = make_service(
            fake.kind, client, ours, RateLimit(60, clock, clock.sleep), ours.retry
        )
        item = service.add_magnet(MAGNET)
        assert service.find(HASH) == item
        service.delete(item)
        assert service.find(HASH) is None
    assert fake.items == {}


async def test_an_item_the_account_has_already_is_found_by_its_hash_not_added(
    tmp_path: Path, fake: FakeDebrid, settings: Settings
) -> None:
    """As after a kill between the add and the id's keeping: the search by hash finds it."""
    torrent, wanted = trip(tmp_path)
    fake.swarm[HASH] = torrent
    fake.add(HASH, MAGNET).selected = True  # on the account before the job
    ours = with_service(settings, fake)
    done = await run_one(ours, MAGNET)
    assert done.state is JobState.DONE, done.error_message
    assert fake.added() == 0 and len(fake.items) == 1
    assert delivered(ours) == wanted


def test_real_debrid_is_searched_past_its_first_page_of_torrents(
    cdn: FaultServer, settings: Settings
) -> None:
    """Real-Debrid lists 100 torrents a page, newest first: an item added before 150
    others is found on the second page, not added again."""
    with debrid_serving("realdebrid", cdn) as fake:
        old = fake.add(HASH, MAGNET)
        for n in range(150):
            fake.add(f"{n:040x}", "magnet")
        _finds_only_its_own(fake, settings, old.id)
        assert fake.calls["torrents"] == 4  # two pages each, the second short


def test_debrid_link_is_searched_past_its_first_page_of_torrents(
    cdn: FaultServer, settings: Settings
) -> None:
    """Debrid-Link lists 50 torrents a page at most: an item behind 60 others is found
    on the second page, not added again."""
    with debrid_serving("debridlink", cdn) as fake:
        for n in range(60):
            fake.add(f"{n:040x}", "magnet")
        item = fake.add(HASH, MAGNET)
        _finds_only_its_own(fake, settings, item.id)
        assert fake.calls["seedbox/list"] == 4  # two pages each


def _finds_only_its_own(fake: FakeDebrid, settings: Settings, wanted: str) -> None:
    """The service's search of the account finds ``HASH`` as ``wanted``, and no other."""
    ours = with_service(settings, fake)
    clock = _Clock()
    with api_client(ours.network, ours, fake.kind) as client:
        limit = RateLimit(600, clock, clock.sleep)
        service = make_service(fake.kind, client, ours, limit, ours.retry)
        assert service.find(HASH) == wanted
        assert service.find("ff" * 20) is None


@pytest.mark.parametrize("asks", [3, 10_000, -1])
def test_an_alldebrid_link_answered_delayed_is_asked_about_on_the_clock(
    cdn: FaultServer, settings: Settings, asks: int
) -> None:
    """``link/unlock`` answers ``delayed`` (an id, no link): ``link/delayed`` is asked
    every 5 s on the key's clock until its status is 2 (the link: read), 3 (failed:
    ``debrid.api``), or 2 minutes have passed (a wait, ``debrid.not_ready``)."""
    from ferryman.errors import ServerWait

    data = b"\xff\xd8\xff" + b"7" * 400
    with debrid_serving("alldebrid", cdn) as fake:
        fake.swarm[HASH] = Torrent("T", [("T/a.jpg", data, "image/jpeg")])
        fake.delay_unlocks = asks
        ours = with_service(settings, fake)
        clock = _Clock()
        with api_client(ours.network, ours, fake.kind) as client:
            limit = RateLimit(600, clock, clock.sleep)
            service = make_service(fake.kind, client, ours, limit, ours.retry)
            item = service.add_magnet(MAGNET)
            (file,) = service.status(item).files
            if asks == 3:
                link = service.unlock(item, file)
                assert client.get(link).content == data
                assert clock.slept == [5.0, 5.0, 5.0] and fake.calls["delayed"] == 4
                return
            with pytest.raises(FerrymanError) as failed:
                service.unlock(item, file)
    if asks < 0:  # status 3: it could not be made
        assert failed.value.code == "debrid.api" and "delayed" in failed.value.message
        assert fake.calls["delayed"] == 1 and not clock.slept
    else:  # never ready: bounded on the clock, then the read waits and unlocks again
        assert isinstance(failed.value, ServerWait) and failed.value.code == "debrid.not_ready"
        assert sum(clock.slept) == 120 and fake.calls["delayed"] == 25  # at 0, 5 … 120 s


async def test_a_long_429_leaves_the_job_waiting_as_rate_limited_with_its_next_step(
    fake: FakeDebrid, settings: Settings
) -> None:
    """A 429 whose Retry-After is longer than ``retry.max_seconds`` goes to the engine:
    the job waits as ``debrid.rate_limited`` ("waits and goes on by itself"), not as
    ``source.http.status``, whose next step ("try the link in a browser") fits no
    debrid API call."""
    fake.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
    fake.throttled, fake.retry_after = 1_000, "3600"
    ours = with_service(settings, fake)
    store = await Store.open(ours.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=ours)
        waiting = await run_until_waiting(store, ours, job.id)
    finally:
        await store.close()
    assert waiting.wait_reason == "debrid.rate_limited", waiting.wait_reason
    assert fake.added() == 0


def test_a_cached_real_debrid_torrent_is_ready_at_the_first_status_once_its_files_are_chosen(
    cdn: FaultServer, settings: Settings
) -> None:
    """Real-Debrid holds a new torrent at ``waiting_files_selection``; once its files are
    chosen a cached one is ``downloaded``. The state asked before choosing was answered:
    every Real-Debrid magnet waited a recheck (30 s) "not finished (waiting_files_selection)"."""
    with debrid_serving("realdebrid", cdn) as rd:
        rd.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
        ours = with_service(settings, rd)
        with api_client(ours.network, ours, rd.kind) as client:
            limit = RateLimit(60, lambda: 0.0, lambda _: None)
            service = make_service(rd.kind, client, ours, limit, ours.retry)
            found = service.status(service.add_magnet(MAGNET))
    assert (found.ready, found.state) == (True, "downloaded")
    assert [f.path for f in found.files] == ["a.jpg"]


def test_a_429_waited_out_in_place_is_said_while_it_lasts(
    fake: FakeDebrid, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A Retry-After up to ``retry.max_seconds`` (10 min) is waited out in the call:
    `ferryman run` showed nothing meanwhile (the job "fetching", no line, no reason)."""
    fake.swarm[HASH] = Torrent("T", [("a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")])
    ours = with_service(settings, fake)
    clock = _Clock()
    fake.throttled, fake.retry_after = 1, "300"
    with caplog.at_level("WARNING"), api_client(ours.network, ours, fake.kind) as client:
        limit = RateLimit(60, clock, clock.sleep)
        make_service(fake.kind, client, ours, limit, ours.retry).add_magnet(MAGNET)
    assert clock.slept == [300]
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("too many requests (HTTP 429)" in m and "300 s" in m for m in said), said


def test_an_alldebrid_link_answered_delayed_is_said_while_it_is_prepared(
    cdn: FaultServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A delayed link holds its read up to 2 minutes: `ferryman run` showed nothing
    meanwhile (between job_started and the next line); it is said, once a link."""
    data = b"\xff\xd8\xff" + b"7" * 400
    with debrid_serving("alldebrid", cdn) as fake:
        fake.swarm[HASH] = Torrent("T", [("T/a.jpg", data, "image/jpeg")])
        fake.delay_unlocks = 2
        ours = with_service(settings, fake)
        clock = _Clock()
        with caplog.at_level("WARNING"), api_client(ours.network, ours, fake.kind) as client:
            service = make_service(
                fake.kind, client, ours, RateLimit(600, clock, clock.sleep), ours.retry
            )
            item = service.add_magnet(MAGNET)
            (file,) = service.status(item).files
            service.unlock(item, file)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    told = [m for m in said if "(delayed)" in m and "a.jpg" in m and "every 5 s" in m]
    assert len(told) == 1, said  # once a link, not at every ask
