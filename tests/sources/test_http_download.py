"""The resumable downloader against a real HTTP server on loopback that misbehaves."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import NetworkSettings, Retry
from ferryman.errors import FerrymanError
from ferryman.net.download import Downloaded, download
from ferryman.net.http import make_client
from ferryman.net.kinds import LinkKind
from ferryman.net.partfile import PartWriter
from ferryman.net.progress import DownloadProgress, SpeedMeter
from ferryman.net.sidecar import PartRecord, write_record
from tests.support.httpserve import Faults, FaultServer, Link, serving
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024**2


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def network(stall: float = 5.0) -> NetworkSettings:
    return NetworkSettings(stall_seconds=stall)  # type: ignore[call-arg]


def quick_retry(attempts: int = 5) -> Retry:
    return Retry(max_attempts=attempts, base_seconds=0.05, max_seconds=30, jitter=0.25)


async def fetch(
    url: str, folder: Path, *, stall: float = 5.0, attempts: int = 5, **options: object
) -> Downloaded:
    settings = network(stall)
    async with make_client(settings) as client:
        return await download(
            client,
            url,
            folder,
            network=settings,
            retry=quick_retry(attempts),
            **options,  # type: ignore[arg-type]
        )


def statuses(server: FaultServer, path: str) -> list[tuple[int, str | None, str | None]]:
    return [
        (r.status, r.headers.get("Range"), r.headers.get("If-Range"))
        for r in server.requests_for(path)
    ]


async def test_whole_download_is_byte_exact_with_its_record(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(3 * MiB)
    server.add("/clip.bin", data, content_type="application/octet-stream")
    result = await fetch(server.url("/clip.bin"), tmp_path)
    assert result.path.read_bytes() == data
    assert (result.name, result.size, result.restarts) == ("clip.bin", len(data), 0)
    assert not (tmp_path / "clip.bin.part").exists()
    record = json.loads((tmp_path / "clip.bin.part.json").read_text())
    assert record["complete"] is True
    assert record["size"] == len(data)
    assert record["etag"] == server.resources["/clip.bin"].etag
    assert server.served["/clip.bin"] == len(data)


async def test_a_cut_connection_resumes_with_range_and_if_range(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(4 * MiB)
    server.add("/a.zip", data, faults=Faults(cut_at=MiB + 123))
    result = await fetch(server.url("/a.zip"), tmp_path)
    assert result.path.read_bytes() == data
    assert server.served["/a.zip"] <= 1.01 * len(data)
    etag = server.resources["/a.zip"].etag
    assert statuses(server, "/a.zip") == [(200, None, None), (206, f"bytes={MiB + 123}-", etag)]


async def test_if_range_uses_last_modified_without_a_strong_etag(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(2 * MiB)
    resource = server.add("/weak", data, weak_etag=True, faults=Faults(cut_at=500_000))
    result = await fetch(server.url("/weak"), tmp_path)
    assert result.path.read_bytes() == data
    assert statuses(server, "/weak")[1] == (206, "bytes=500000-", resource.last_modified)


async def test_a_server_ignoring_range_restarts_from_zero(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(2 * MiB)
    server.add("/r", data, faults=Faults(cut_at=MiB, ignore_range=True))
    result = await fetch(server.url("/r"), tmp_path)
    assert result.path.read_bytes() == data
    assert result.restarts == 1 and result.changes == 0
    assert [s for s, _, _ in statuses(server, "/r")] == [200, 200]
    assert server.served["/r"] == MiB + len(data)


async def test_a_206_from_the_wrong_byte_is_refused(server: FaultServer, tmp_path: Path) -> None:
    data = payload(2 * MiB)
    server.add("/w", data, faults=Faults(cut_at=700_000, wrong_range_start=True))
    result = await fetch(server.url("/w"), tmp_path)
    assert result.path.read_bytes() == data
    assert result.restarts == 1
    seen = statuses(server, "/w")
    assert [(s, r) for s, r, _ in seen] == [(200, None), (206, "bytes=700000-"), (200, None)]


async def test_changed_content_starts_over_with_the_new_bytes(
    server: FaultServer, tmp_path: Path
) -> None:
    old, new = payload(2 * MiB, seed=1), payload(3 * MiB, seed=2)
    server.add("/c", old, faults=Faults(cut_at=MiB, replace_on_cut=new))
    result = await fetch(server.url("/c"), tmp_path)
    assert result.path.read_bytes() == new
    assert (result.changes, result.restarts, result.size) == (1, 1, len(new))
    # If-Range carried the old ETag, so the server answered the new file whole.
    assert [s for s, _, _ in statuses(server, "/c")] == [200, 200]


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_stall_reconnects_and_resumes(server: FaultServer, tmp_path: Path) -> None:
    data = payload(2 * MiB)
    server.add("/s", data, faults=Faults(stall_at=MiB, stall_seconds=30))
    started = time.monotonic()
    result = await fetch(server.url("/s"), tmp_path, stall=0.5)
    assert time.monotonic() - started < 10
    assert result.path.read_bytes() == data
    assert server.served["/s"] <= 1.01 * len(data)
    assert statuses(server, "/s")[1][:2] == (206, f"bytes={MiB}-")


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_stall_that_never_ends_is_reported(server: FaultServer, tmp_path: Path) -> None:
    server.add(
        "/dead", payload(MiB), faults=Faults(stall_at=1000, stall_seconds=60, stall_times=None)
    )
    started = time.monotonic()
    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/dead"), tmp_path, stall=0.3, attempts=3)
    elapsed = time.monotonic() - started
    assert caught.value.code == "source.http.stalled"
    assert caught.value.retryable
    # the first attempt brought bytes; then three attempts in a row without any
    assert len(server.requests_for("/dead")) == 4
    assert elapsed < 4 * 0.3 + 3 * 0.2 + 2.0
    assert (tmp_path / "dead.part").stat().st_size == 1000  # kept for the engine's next try


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_server_that_never_answers_counts_as_stalled(tmp_path: Path) -> None:
    with serving(Link(latency=3.0)) as mute:  # headers come only after 3 s
        mute.add("/quiet", payload(1000))
        started = time.monotonic()
        with pytest.raises(FerrymanError) as caught:
            await fetch(mute.url("/quiet"), tmp_path, stall=0.3, attempts=2)
        assert caught.value.code == "source.http.stalled"
        assert time.monotonic() - started < 2.5


async def test_429_waits_for_retry_after(server: FaultServer, tmp_path: Path) -> None:
    data = payload(MiB)
    server.add("/busy", data, faults=Faults(status=429, retry_after="1"))
    started = time.monotonic()
    result = await fetch(server.url("/busy"), tmp_path)
    assert time.monotonic() - started >= 1.0
    assert result.path.read_bytes() == data
    assert [s for s, _, _ in statuses(server, "/busy")] == [429, 200]


async def test_503_with_a_long_retry_after_goes_to_the_caller(
    server: FaultServer, tmp_path: Path
) -> None:
    server.add("/later", payload(1000), faults=Faults(status=503, retry_after="3600"))
    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/later"), tmp_path)
    assert caught.value.code == "source.http.status"
    assert getattr(caught.value, "seconds", None) == 3600
    assert len(server.requests_for("/later")) == 1


async def test_500_is_retried_then_reported_with_its_status(
    server: FaultServer, tmp_path: Path
) -> None:
    server.add("/err", payload(1000), faults=Faults(status=500, status_times=None))
    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/err"), tmp_path, attempts=3)
    assert caught.value.code == "source.http.status"
    assert "500" in caught.value.message
    assert len(server.requests_for("/err")) == 3


@pytest.mark.parametrize(
    ("status", "code"), [(404, "source.not_found"), (401, "source.auth"), (403, "source.auth")]
)
async def test_permanent_statuses_are_not_retried(
    server: FaultServer, tmp_path: Path, status: int, code: str
) -> None:
    server.add("/x", payload(1000), faults=Faults(status=status, status_times=None))
    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/x"), tmp_path)
    assert caught.value.code == code
    assert not caught.value.retryable
    assert len(server.requests_for("/x")) == 1
    assert listing(tmp_path) == []


async def test_an_expired_link_is_refreshed_and_resumed(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(3 * MiB)
    resource = server.add(
        "/cdn/file.mkv", data, token="first", faults=Faults(cut_at=MiB, expire_token_on_cut=True)
    )
    first_url = server.url("/cdn/file.mkv")
    asked: list[str] = []

    async def refresh() -> str:
        asked.append(server.url("/cdn/file.mkv"))
        return asked[-1]

    result = await fetch(first_url, tmp_path, refresh_url=refresh)
    assert result.path.read_bytes() == data
    assert result.refreshes == 1 and result.restarts == 0
    assert result.url == asked[0] != first_url
    assert server.served["/cdn/file.mkv"] <= 1.01 * len(data)
    seen = statuses(server, "/cdn/file.mkv")
    resumed = (f"bytes={MiB}-", resource.etag)
    assert seen == [(200, None, None), (403, *resumed), (206, *resumed)]


async def test_a_refreshed_link_refused_again_is_an_auth_error(
    server: FaultServer, tmp_path: Path
) -> None:
    server.add("/gone", payload(1000), faults=Faults(status=403, status_times=None))

    async def refresh() -> str:
        return server.url("/gone") + "?fresh=1"

    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/gone"), tmp_path, refresh_url=refresh)
    assert caught.value.code == "source.auth"
    assert len(server.requests_for("/gone")) == 2


async def test_progress_rises_to_the_total(tmp_path: Path) -> None:
    data = payload(3 * MiB)
    events: list[DownloadProgress] = []
    with serving(Link(bandwidth=4 * MiB)) as slow:
        slow.add("/p", data)
        await fetch(slow.url("/p"), tmp_path, on_progress=events.append)
    done = [e.done for e in events]
    assert len(events) >= 2
    assert done == sorted(done)
    assert done[-1] == len(data) and all(e.total == len(data) for e in events)
    assert events[-1].eta == 0.0 and events[-1].speed > 0


def test_speed_is_measured_over_a_sliding_window() -> None:
    meter = SpeedMeter(window=5.0)
    for second in range(11):  # 1 MiB/s for ten seconds...
        meter.add(second * MiB, float(second))
    assert meter.speed() == pytest.approx(MiB, rel=0.01)
    for second in range(11, 14):  # ...then 4 MiB/s: the old samples age out
        meter.add(10 * MiB + (second - 10) * 4 * MiB, float(second))
    assert 2 * MiB < meter.speed() <= 4 * MiB
    meter.add(0, 14.0)  # a restart from zero forgets the other bytes' samples
    assert meter.speed() == 0.0


def test_a_burst_of_a_few_milliseconds_has_no_speed_yet() -> None:
    """A delivering zip showed "6098.7 MB/s": 500 MB copied locally in 80 ms."""
    meter = SpeedMeter()
    meter.add(0, 100.0)
    meter.add(500 * MiB, 100.08)
    assert meter.speed() == 0.0  # not known: too little real time
    meter.add(501 * MiB, 101.0)
    assert meter.speed() == pytest.approx(501 * MiB, rel=0.01)  # over a second: known


async def test_space_is_asked_for_before_and_during(server: FaultServer, tmp_path: Path) -> None:
    data = payload(3 * MiB + 5)
    server.add("/room", data)
    asked: list[int] = []

    async def wait_to_write(needed: int) -> None:
        asked.append(needed)

    await fetch(server.url("/room"), tmp_path, wait_to_write=wait_to_write, space_check_bytes=MiB)
    # All of it before the first byte; then, each time at least another MiB has been
    # written since the last ask, what is left (how the chunks fall decides exactly
    # where, and whether one more ask comes with the last few bytes).
    assert asked[0] == len(data)
    gaps = [before - after for before, after in itertools.pairwise(asked)]
    assert all(MiB <= gap < 2 * MiB for gap in gaps)  # never more than a MiB (+ a chunk) unasked
    assert 0 < asked[-1] <= MiB  # and no whole MiB written after the last ask
    assert len(asked) >= 3


async def test_too_large_before_the_first_byte_leaves_nothing(
    server: FaultServer, tmp_path: Path
) -> None:
    server.add("/huge", payload(2 * MiB))

    async def wait_to_write(needed: int) -> None:
        raise FerrymanError("space.too_large", f"{needed} bytes will never fit")

    folder = tmp_path / "fetch"
    with pytest.raises(FerrymanError) as caught:
        await fetch(server.url("/huge"), folder, wait_to_write=wait_to_write)
    assert caught.value.code == "space.too_large"
    assert listing(folder) == []
    assert len(server.requests_for("/huge")) == 1


async def test_a_finished_part_left_by_a_crash_completes_on_416(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(MiB)
    resource = server.add("/done.bin", data)
    url = server.url("/done.bin")
    record = PartRecord("done.bin", url, url, resource.etag, None, len(data), None)
    write_record(tmp_path, record)
    (tmp_path / "done.bin.part").write_bytes(data)  # killed just before the rename
    result = await fetch(url, tmp_path)
    assert result.path.read_bytes() == data
    assert statuses(server, "/done.bin") == [(416, f"bytes={len(data)}-", resource.etag)]
    assert server.served["/done.bin"] == 0


async def test_a_part_longer_than_its_record_is_not_trusted(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(MiB)
    resource = server.add("/long.bin", data)
    url = server.url("/long.bin")
    write_record(tmp_path, PartRecord("long.bin", url, url, resource.etag, None, len(data), None))
    (tmp_path / "long.bin.part").write_bytes(data + b"garbage")
    result = await fetch(url, tmp_path)
    assert result.path.read_bytes() == data
    assert statuses(server, "/long.bin") == [(200, None, None)]


async def test_a_completed_download_is_not_fetched_again(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(MiB)
    server.add("/once", data)
    first = await fetch(server.url("/once"), tmp_path)
    again = await fetch(server.url("/once"), tmp_path)
    assert again.path == first.path and again.path.read_bytes() == data
    assert len(server.requests_for("/once")) == 1


async def test_no_content_length_ends_with_the_connection(
    server: FaultServer, tmp_path: Path
) -> None:
    data = payload(MiB + 7)
    server.add("/stream", data, send_length=False)
    result = await fetch(server.url("/stream"), tmp_path)
    assert result.path.read_bytes() == data
    assert result.size == len(data)


async def test_a_killed_download_resumes_from_its_part(tmp_path: Path) -> None:
    data = payload(8 * MiB, seed=7)
    folder = tmp_path / "fetch"
    with serving(Link(bandwidth=4 * MiB)) as slow:
        slow.add("/big.zip", data, content_type="application/zip")
        url = slow.url("/big.zip")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.net_child",
            url,
            str(folder),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        part = folder / "big.zip.part"

        def two_mib() -> bool:
            assert child.returncode is None, "the child ended before it could be killed"
            return part.exists() and part.stat().st_size >= 2 * MiB

        await eventually(two_mib, "2 MiB of the part on disk", within=30)
        os.kill(child.pid, signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        kept = part.stat().st_size
        assert 2 * MiB <= kept < len(data)
        slow.link.bandwidth = None
        result = await fetch(url, folder)
        assert result.path.read_bytes() == data
        assert result.kind is LinkKind.ARCHIVE  # by its Content-Type
        assert slow.served["/big.zip"] <= 1.2 * len(data)
        assert statuses(slow, "/big.zip")[-1][:2] == (206, f"bytes={kept}-")


async def test_names_come_from_rfc6266_then_the_final_url(
    server: FaultServer, tmp_path: Path
) -> None:
    server.add(
        "/dl",
        b"PK\x05\x06" + bytes(18),
        disposition="attachment; filename=\"naive.zip\"; filename*=UTF-8''na%C3%AFve.zip",
    )
    server.add("/evil", b"x", disposition='attachment; filename="../../etc/passwd"')
    server.add("/files/m\u00e4rz clip.mp4", b"\x00\x00\x00\x18ftypisom", content_type=None)
    server.redirect("/go", "/files/m%C3%A4rz%20clip.mp4")
    named = await fetch(server.url("/dl"), tmp_path / "a")
    evil = await fetch(server.url("/evil"), tmp_path / "b")
    moved = await fetch(server.url("/go"), tmp_path / "c")
    assert named.name == "na\u00efve.zip" and named.kind is LinkKind.ARCHIVE
    assert evil.name == "passwd" and evil.path.parent == tmp_path / "b"
    assert moved.name == "m\u00e4rz clip.mp4"
    assert moved.final_url.endswith("/files/m%C3%A4rz%20clip.mp4")
    assert listing(tmp_path / "c") == [
        "m\u00e4rz clip.mp4",
        "m\u00e4rz clip.mp4.part.json",
    ]


def test_a_full_disk_while_writing_is_space_low() -> None:
    writer = PartWriter(Path("/dev/full"), 0)  # every write: ENOSPC, from the kernel
    try:
        with pytest.raises(FerrymanError) as caught:
            writer.write(b"x" * 4096, sync=False)
    finally:
        with contextlib.suppress(OSError):
            writer.close()
    assert caught.value.code == "space.low" and caught.value.retryable


async def test_a_given_name_is_made_safe_too(server: FaultServer, tmp_path: Path) -> None:
    server.add("/n", b"abc", disposition='attachment; filename="server.bin"')
    result = await fetch(server.url("/n"), tmp_path, name="../mine:1.bin")
    assert result.name == "mine_1.bin" and result.path == tmp_path / "mine_1.bin"


async def test_a_refused_connection_is_a_retryable_io_error(tmp_path: Path) -> None:
    with serving() as gone:
        url = gone.base + "/x"
    with pytest.raises(FerrymanError) as caught:
        await fetch(url, tmp_path, attempts=2)
    assert caught.value.code == "source.io" and caught.value.retryable


async def test_the_client_follows_at_most_max_redirects(
    server: FaultServer, tmp_path: Path
) -> None:
    server.redirect("/loop", "/loop")
    settings = NetworkSettings(max_redirects=3)  # type: ignore[call-arg]
    async with make_client(settings) as client:
        with pytest.raises(FerrymanError) as caught:
            await download(client, server.url("/loop"), tmp_path, network=settings, retry=Retry())  # type: ignore[call-arg]
    assert caught.value.code == "source.http.refused"
    assert len(server.requests_for("/loop")) == 4
