"""The web's parts on their own: the numbered stream, signed links, the address guard,
the rate limiter, the results store's zip and retention, resumable uploads."""

from __future__ import annotations

import io
import json
import os
import socket
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ferryman.errors import FerrymanError, spec_for
from ferryman.web import guard
from ferryman.web.results import LocalResults
from ferryman.web.signing import Signer, load_secret
from ferryman.web.stream import Stream
from ferryman.web.uploads import Uploads
from tests.support.waiting import eventually


async def test_the_stream_numbers_keeps_and_tells_a_late_client_what_it_missed() -> None:
    stream = Stream(keep=3)
    for n in range(1, 6):
        stream.publish({"type": "job", "job": {"id": n % 2, "n": n}})
    assert stream.seq == 5
    missed = stream.since(3, stream.epoch)
    assert missed is not None and [m.seq for m in missed] == [4, 5]
    assert json.loads(missed[0].text)["job"]["n"] == 4
    assert stream.since(5, stream.epoch) == []
    assert stream.since(1, stream.epoch) is None  # older than what is kept: snapshot
    assert stream.since(2, stream.epoch) is not None  # 3, 4, 5 are all kept
    assert stream.since(3, "another") is None  # a restarted server
    assert stream.since(9, stream.epoch) is None  # from the future: resync


def test_signed_links_are_refused_when_changed_or_expired(tmp_path: Path) -> None:
    secret = load_secret(tmp_path)
    assert load_secret(tmp_path) == secret  # made once
    assert (tmp_path / "web.secret").stat().st_mode & 0o777 == 0o600
    signer = Signer(secret)
    token = signer.sign(7, "0001/clip.mp4", time.time() + 60)
    grant = signer.check(token, time.time())
    assert (grant.job_id, grant.path) == (7, "0001/clip.mp4")
    head, _, tail = token.partition(".")
    other = Signer(secret).sign(8, "0001/clip.mp4", time.time() + 60).partition(".")[0]
    # The last character of each part carries spare bits: every other spelling of it is
    # refused too, not only those that decode differently.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(tail[-1])
    respelled = [f"{head}.{tail[:-1]}{alphabet[last ^ spare]}" for spare in (1, 2, 3)]
    for bad in (f"{other}.{tail}", f"{head}.{tail[:-2]}", "x.y", "", token + "x", *respelled):
        with pytest.raises(FerrymanError) as refused:
            signer.check(bad, time.time())
        assert refused.value.code == "link.tampered"
    with pytest.raises(FerrymanError) as late:
        signer.check(token, time.time() + 61)
    assert late.value.code == "link.expired"
    with pytest.raises(FerrymanError):
        Signer(b"another secret").check(token, time.time())


@pytest.mark.parametrize(
    "link",
    [
        "http://127.0.0.1/a",
        "http://[::1]/a",
        "http://[::ffff:127.0.0.1]/a",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/a",
        "https://172.16.3.4/a",
        "http://192.168.0.1/a",
        "http://0.0.0.0/a",
        "http://[fe80::1]/a",
        "davs://localhost/photos/",
    ],
)
def test_private_and_local_addresses_are_blocked(link: str) -> None:
    with pytest.raises(FerrymanError) as refused:
        guard.check_link(link)
    assert refused.value.code == "link.blocked"


def test_a_name_that_resolves_inside_is_blocked_and_one_outside_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {"inside.example": "10.1.2.3", "outside.example": "93.184.216.34"}

    def resolve(host: str, *_args: object, **_kw: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 443))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FerrymanError) as refused:
        guard.check_link("https://inside.example/a.zip")
    assert refused.value.code == "link.blocked"
    assert refused.value.message.startswith("inside.example (10.1.2.3) is inside")
    with pytest.raises(FerrymanError) as literal:
        guard.check_link("http://127.0.0.1:8080/a.zip")
    assert literal.value.message == "127.0.0.1 is inside a private or local network"
    step = spec_for("link.blocked").next_step  # says how, not only what
    assert "`ferryman config set web.allow_private_links true`" in step
    guard.check_link("https://outside.example/a.zip")
    guard.check_link("torbox:torrent/1")  # not a web link: nothing to resolve


def test_binding_beyond_loopback_needs_a_token() -> None:
    guard.check_bind("127.0.0.1", [])
    guard.check_bind("::1", [])
    guard.check_bind("0.0.0.0", ["sha256:" + "0" * 64])
    with pytest.raises(FerrymanError) as refused:
        guard.check_bind("0.0.0.0", [])
    assert refused.value.code == "config.invalid"
    token, hashed = guard.new_token()
    tokens = guard.Tokens([hashed])
    assert tokens.known(token) and not tokens.known(token + "x") and not tokens.known(None)
    assert token not in hashed
    # A page's session names its token by a prefix of the hash: gone with the token.
    prefix = hashed.removeprefix("sha256:")[:16]
    assert tokens.still_listed(prefix) and not tokens.still_listed("")
    assert not guard.Tokens([guard.new_token()[1]]).still_listed(prefix)


def test_the_rate_limiter_counts_per_key_and_resets_with_its_window() -> None:
    limiter = guard.RateLimiter(2, period=10)
    assert limiter.take("a", now=0)[:2] == (True, 1)
    assert limiter.take("a", now=1)[:2] == (True, 0)
    allowed, remaining, reset = limiter.take("a", now=2)
    assert (allowed, remaining, reset) == (False, 0, 8)
    assert limiter.take("b", now=2)[0]
    assert limiter.take("a", now=10.5)[:2] == (True, 1)


def test_the_rate_limiter_past_its_keys_forgets_its_oldest_windows_only() -> None:
    """Past 10,000 keys it forgot every window at once: the addresses that had spent
    theirs just before the cap were given a fresh budget."""
    limiter = guard.RateLimiter(1, period=60)
    cap = 10_000  # guard.KEYS
    many = cap + 50
    for n in range(many):
        assert limiter.take(f"addr:{n}", now=0)[0]
    # Those that came last (before and after the cap) are still counted...
    for n in (cap - 1, cap, many - 1):
        assert not limiter.take(f"addr:{n}", now=1)[0], n
    # ...and only the oldest were forgotten, one for each new key.
    assert limiter.take("addr:0", now=1)[0]
    assert len(limiter._windows) == cap == guard.KEYS


def _album(root: Path, job: int, seq: int, names: list[str]) -> None:
    folder = root / f"job-{job}" / f"{seq:04d}"
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(name.encode() * 1000)
    items = [{"file": name, "parts": None} for name in names]
    (folder / "manifest.json").write_text(json.dumps({"items": items}))


def test_results_list_zip_and_expire(tmp_path: Path) -> None:
    results = LocalResults(tmp_path / "results")
    _album(results.root, 3, 1, ["b.jpg", "a.jpg"])
    _album(results.root, 3, 2, ["a.jpg"])
    (results.root / "job-3" / ".0003.partial").mkdir()  # an album being written
    files = results.files_now(3)
    assert [f.path for f in files] == ["0001/b.jpg", "0001/a.jpg", "0002/a.jpg"]
    assert files[0].mime == "image/jpeg" and files[0].size == 5000
    zipped = b"".join(results.zip_stream(3, files, chunk=777))
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.namelist() == ["b.jpg", "a.jpg", "a (2).jpg"]
        assert archive.read("a (2).jpg") == b"a.jpg" * 1000
    with pytest.raises(FerrymanError) as outside:
        results.locate_now(3, "../job-4/0001/x.jpg")
    assert outside.value.code == "link.gone"
    with pytest.raises(FerrymanError):
        results.locate_now(3, "0001/manifest.json")
    assert results.locate_now(3, "0002/a.jpg").read_bytes() == b"a.jpg" * 1000
    _album(results.root, 4, 1, ["new.jpg"])
    old = time.time() - 10 * 86400
    os.utime(results.root / "job-3", (old, old))
    removed, freed = results.sweep_now(7 * 86400)
    assert removed == 1 and freed > 15000
    assert results.files_now(3) == [] and len(results.files_now(4)) == 1


async def test_uploads_go_on_from_where_they_stopped(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads", max_size=100)

    async def body(*blocks: bytes):  # type: ignore[no-untyped-def]
        for block in blocks:
            yield block

    made = uploads.create("..\\evil/../../trip.zip", 10)
    assert made.name == "trip.zip" and made.path.parent.parent == tmp_path / "uploads"
    got = await uploads.append(made.id, "bytes 0-3/10", body(b"01", b"23"))
    assert got.offset == 4 and not got.done
    with pytest.raises(FerrymanError) as wrong:
        await uploads.append(made.id, "bytes 0-3/10", body(b"0123"))
    assert wrong.value.code == "upload.offset"
    with pytest.raises(FerrymanError) as early:
        uploads.finished(made.id)
    assert early.value.code == "upload.incomplete"
    with pytest.raises(FerrymanError):
        await uploads.append(made.id, "bytes 4-12/10", body(b"x"))
    done = await uploads.append(made.id, "bytes 4-9/10", body(b"456789", b"extra"))
    assert done.done and done.path.read_bytes() == b"0123456789"
    with pytest.raises(FerrymanError) as big:
        uploads.create("big.zip", 101)
    assert big.value.code == "upload.too_large"
    with pytest.raises(FerrymanError) as unknown:
        uploads.get("../../etc")
    assert unknown.value.code == "upload.not_found"
    fresh = uploads.create("new.zip", 1)
    assert uploads.sweep(3600) == 0
    assert uploads.sweep(3600, now=time.time() + 7200) == 2  # trip.zip and new.zip
    with pytest.raises(FerrymanError):
        uploads.get(fresh.id)


@pytest.mark.parametrize(("in_place", "shown"), [(True, 0.0), (False, 0.9)])
async def test_a_job_read_where_it_lies_spends_its_bar_on_its_items(
    in_place: bool, shown: float
) -> None:
    """A zip read by Range was fetched 'whole' at once: its bar sat at 90 % from the
    first second to the end (a trial's). A download fills 90 % of it; reading in place,
    none."""
    from ferryman.engine.plumbing.events import JobFetched, JobFetching
    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    try:
        job = await store.add_job(source="http://h/a.zip", name="a", dest="link:", fetch=True)

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        tracker = Tracker(store, lambda _view: None, no_files, str, stuck_after=60)
        tracker.on_event(JobFetching(job.id, done=0, total=None, speed=0.0, eta=None, fraction=0.0))
        tracker.on_event(JobFetched(job.id, size=None, name=None, note=None, in_place=in_place))
        view = await tracker.view(job.id)
    finally:
        await store.close()
    assert view["progress"]["fraction"] == pytest.approx(shown)


async def test_a_cancelled_jobs_bar_keeps_what_the_store_knows_across_a_restart() -> None:
    """A new process (a restarted server) has seen no progress; the bar of a cancelled
    job with 1 of 4 files delivered stays at 25 %, not 0 % (it dropped from 3 % to 0 %)."""
    from ferryman.model import ItemState, MediaKind, Plan
    from ferryman.store.memory.store import MemoryStore
    from ferryman.store.shared.rows import NewItem
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    try:
        job = await store.add_job(source="/in.zip", name="in", dest="link:")
        assert await store.claim_job("reader", 30) is not None
        for seq in range(4):
            state = ItemState.SKIPPED if seq == 0 else ItemState.READY
            new = NewItem(
                seq=seq, source_path=f"p{seq}.jpg", kind=MediaKind.PHOTO, state=state,
                size=100, plan=Plan.AS_IS,
            )  # fmt: skip
            await store.record_entry(job.id, "reader", seq + 1, new)
        await store.finish_expansion(job.id, "reader")
        await store.cancel(job.id)

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        fresh = Tracker(store, lambda _view: None, no_files, str, stuck_after=60)
        view = await fresh.view(job.id)
    finally:
        await store.close()
    assert view["status"] == "cancelled"
    assert view["progress"]["fraction"] == pytest.approx(0.25)
    assert view["progress"]["speed"] is None  # no figures where none is known


async def test_speed_and_time_left_are_dropped_once_a_job_stops_downloading() -> None:
    from ferryman.engine.plumbing.events import ItemProgress, JobFetching
    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    try:
        job = await store.add_job(source="http://h/a.mp4", name="a", dest="link:", fetch=True)

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        tracker = Tracker(store, lambda _view: None, no_files, str, stuck_after=60)
        tracker.on_event(JobFetching(job.id, done=5, total=10, speed=9e6, eta=1.0, fraction=0.5))
        fetching = await tracker.view(job.id)
        tracker.on_event(ItemProgress(job.id, 1, stage="convert", fraction=0.3))
        converting = await tracker.view(job.id)
    finally:
        await store.close()
    assert fetching["progress"]["speed"] == 9e6 and fetching["progress"]["eta_s"] == 1.0
    assert converting["phase"] == "converting"
    assert converting["progress"]["speed"] is None and converting["progress"]["eta_s"] is None
    assert converting["progress"]["fraction"] >= fetching["progress"]["fraction"]


async def test_a_job_touched_while_the_bars_are_saved_is_still_sent() -> None:
    """A job first told by the bus while the tracker saved the bars as shown (an await)
    has no send time yet: the tracker died of a KeyError there, silently, and every page
    stopped moving (a link failing at once stayed "queued" in full test runs)."""
    import asyncio

    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    sent: list[tuple[int, str]] = []
    try:
        first = await store.add_job(source="http://h/a.mp4", name="a", dest="link:")
        second = await store.add_job(source="http://h/b.mp4", name="b", dest="link:")

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        tracker = Tracker(
            store,
            lambda view: sent.append((view["job"]["id"], view["job"]["status"])),
            no_files,
            str,
            stuck_after=60,
        )
        saving = tracker._kept.save
        told: list[int] = []

        async def save_while_the_bus_tells(*, all_due: bool = False) -> None:
            await saving(all_due=all_due)
            if not told:  # the bus, during the save's await: a job never sent before
                told.append(second.id)
                tracker.touch(second.id)

        tracker._kept.save = save_while_the_bus_tells  # type: ignore[method-assign]
        tracker.touch(first.id)
        running = asyncio.create_task(tracker.run(poll=None))
        try:

            def seen(state: str) -> bool:
                assert not running.done(), running.exception()
                return (second.id, state) in sent

            await eventually(lambda: seen("queued"), "the second job sent")
            await store.cancel(second.id)
            tracker.touch(second.id)  # and it goes on after that
            await eventually(lambda: seen("cancelled"), "its cancel sent")
        finally:
            running.cancel()
    finally:
        await store.close()
    assert told == [second.id]
    assert (first.id, "queued") in sent
    assert sent[-2:] == [(second.id, "queued"), (second.id, "cancelled")]


async def test_an_error_in_one_round_of_live_views_is_logged_and_the_next_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever goes wrong in a round, the tracker is the only thing keeping every page
    live: it says so and goes on rather than end without a word."""
    import asyncio

    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    sent: list[int] = []
    failed, published = asyncio.Event(), asyncio.Event()
    try:
        job = await store.add_job(source="http://h/a.mp4", name="a", dest="link:")

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        def publish(view: dict[str, Any]) -> None:
            sent.append(view["job"]["id"])
            published.set()

        tracker = Tracker(store, publish, no_files, str, stuck_after=60)
        failures: list[str] = []

        async def save_fails_once(*, all_due: bool = False) -> None:
            if not failures:
                failures.append("once")
                failed.set()
                raise RuntimeError("a round that went wrong")

        tracker._kept.save = save_fails_once  # type: ignore[method-assign]
        running = asyncio.create_task(tracker.run(poll=None))
        try:
            async with asyncio.timeout(10):
                await failed.wait()
                tracker.touch(job.id)
                await published.wait()
            assert not running.done()
        finally:
            running.cancel()
    finally:
        await store.close()
    assert failures == ["once"] and sent == [job.id]
    assert "sending live job views failed; going on" in caplog.text


async def test_removing_a_link_job_deletes_its_results_folder_for_the_cli_too(
    tmp_path: Path,
) -> None:
    """``ferryman remove`` and the page's Remove share ``control.remove_job``: a link
    job's delivered files go with it (they stayed until results.retention)."""
    from ferryman.config import Settings
    from ferryman.engine.ops import control
    from ferryman.sinks.link import job_results
    from ferryman.store.memory.store import MemoryStore

    settings = Settings(data_dir=tmp_path / "data")
    store = MemoryStore()  # the tracker's reads, not the database's
    try:
        job = await store.add_job(source="http://h/a.mp4", name="a", dest="link:")
        kept = job_results(settings.results_dir, job.id) / "0001"
        kept.mkdir(parents=True)
        (kept / "a.mp4").write_bytes(b"x" * 10)
        with pytest.raises(FerrymanError) as running:
            await control.remove_job(store, settings, job.id)
        assert running.value.code == "job.not_ended" and kept.exists()
        await store.cancel(job.id)
        removed = await control.remove_job(store, settings, job.id)
    finally:
        await store.close()
    assert not kept.parent.exists()
    assert job_results(settings.results_dir, job.id) in removed.folders


async def _tracking_two_ended_jobs() -> tuple[Any, Any, list[dict[str, Any]], int, int]:
    """A tracker over a memory store of two cancelled jobs, both sent once by a poll: the
    store, the tracker, what it told the pages, the job kept and the one to remove."""
    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()
    told: list[dict[str, Any]] = []
    kept = await store.add_job(source="http://h/a.mp4", name="a", dest="link:")
    gone = await store.add_job(source="http://h/b.mp4", name="b", dest="link:")
    for job in (kept, gone):
        await store.cancel(job.id)

    async def no_files(_job: object) -> dict[str, object]:
        return {"files": [], "zip": {}}

    tracker = Tracker(store, told.append, no_files, str, stuck_after=60)
    await tracker._poll()
    return store, tracker, told, kept.id, gone.id


async def test_a_job_removed_while_a_poll_reads_comes_back_on_no_page() -> None:
    """A poll that listed the jobs before a removal and made their views after it put the
    removed job back among the views sent, which every page loaded later showed (the
    page list's "Clear finished", then a reload: steady set 15)."""
    import asyncio

    store, tracker, told, kept, gone = await _tracking_two_ended_jobs()
    try:
        listing = store.list_jobs
        listed, go_on = asyncio.Event(), asyncio.Event()

        async def held_listing(*args: Any, **kwargs: Any) -> Any:
            jobs = await listing(*args, **kwargs)
            listed.set()
            await go_on.wait()
            return jobs

        store.list_jobs = held_listing
        polling = asyncio.create_task(tracker._poll())
        await listed.wait()
        await store.remove_job(gone)  # as the API's removal does: the row, then the views
        tracker.forget(gone)
        go_on.set()
        await polling
        store.list_jobs = listing
        snapshot = tracker.snapshot()
        views = await tracker.views()
    finally:
        await store.close()
    assert snapshot is not None and [v["id"] for v in snapshot] == [kept]
    assert [v["id"] for v in views] == [kept]
    about_gone = [m["type"] for m in told if m["job"]["id"] == gone]
    assert about_gone == ["job", "removed"]  # and its removal told once


async def test_a_job_removed_by_another_process_leaves_the_views_at_the_next_poll() -> None:
    """A job removed elsewhere (``ferryman remove``, another node's page) is told to the
    pages as removed, and no page loaded after shows it."""
    store, tracker, told, kept, gone = await _tracking_two_ended_jobs()
    try:
        before = tracker.snapshot()
        await store.remove_job(gone)  # not through this tracker
        await tracker._poll()
        after = tracker.snapshot()
    finally:
        await store.close()
    assert before is not None and [v["id"] for v in before] == [gone, kept]
    assert after is not None and [v["id"] for v in after] == [kept]
    assert [m["type"] for m in told if m["job"]["id"] == gone] == ["job", "removed"]


async def test_a_job_older_than_a_polls_reading_is_not_taken_for_removed() -> None:
    """A poll reads the newest 200 jobs: an older one whose view was sent (a retry of
    it, say) is not among them and must not be told removed, nor read again one by one
    at every poll (one read each, a second, for every such job a server had sent)."""
    store, tracker, told, kept, _gone = await _tracking_two_ended_jobs()
    try:
        for n in range(200):
            await store.add_job(source=f"http://h/{n}.mp4", name=f"n{n}", dest="link:")
        tracker._emit(await tracker.view(kept))  # sent as a touch would send it
        reads = 0
        reading = store.get_job

        async def counted_read(job_id: int) -> Any:
            nonlocal reads
            reads += 1
            return await reading(job_id)

        store.get_job = counted_read
        await tracker._poll()
        snapshot = tracker.snapshot()
    finally:
        await store.close()
    assert snapshot is not None and kept in {v["id"] for v in snapshot}
    assert "removed" not in {m["type"] for m in told}
    assert reads == 0  # told by the one list: no read of each job sent, every poll


async def test_a_tgz_index_pass_shows_its_figures_without_filling_the_download_share() -> None:
    """A .tgz Takeout read through to index it reports the reading phase's figures (a
    ``job_fetching`` of phase ``reading``): the page shows its bytes, speed and time
    left, and the bar stays its items' (a local input downloads nothing: counted as a
    download, the index's end set the bar at 90 % before the first photo)."""
    from ferryman.engine.plumbing.events import JobFetching
    from ferryman.store.memory.store import MemoryStore
    from ferryman.web.live import Tracker

    store = MemoryStore()  # the tracker's reads, not the database's
    try:
        job = await store.add_job(source="/in/takeout-1-001.tgz", name="t", dest="link:")
        assert await store.claim_job("reader", 30) is not None

        async def no_files(_job: object) -> dict[str, object]:
            return {"files": [], "zip": {}}

        tracker = Tracker(store, lambda _view: None, no_files, str, stuck_after=60)
        for done in (10, 60):
            tracker.on_event(JobFetching(job.id, done, 100, 9e6, 1.0, done / 100, phase="reading"))
        view = await tracker.view(job.id)
    finally:
        await store.close()
    assert view["phase"] == "reading"
    assert view["progress"]["bytes"] == 60 and view["progress"]["total"] == 100
    assert view["progress"]["speed"] == 9e6
    assert view["progress"]["fraction"] == pytest.approx(0.0)  # no item yet: none of the bar
