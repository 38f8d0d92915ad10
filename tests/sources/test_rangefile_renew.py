"""``net/rangefile``'s ``renew`` hook at the net level, against the fault server: a link
whose token runs out mid-read (403) is renewed and the read goes on at the byte
reached, whether the bytes came by Range or in one streamed GET; without the hook the
403 is ``source.auth``; a renewed link to other content is refused, never mixed in."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import httpx
import pytest

from ferryman.config import Retry
from ferryman.errors import FerrymanError
from ferryman.net.rangefile import RangeFile, remote_blocks
from tests.support.httpserve import Faults, FaultServer, serving

_RETRY = Retry(max_attempts=3, base_seconds=0.01, max_seconds=0.1, jitter=0)
_SIZE = 4 << 20


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as fault_server:
        yield fault_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


def _expiring(server: FaultServer, cut_at: int) -> tuple[bytes, list[str]]:
    """A file whose token runs out at ``cut_at``; the list records renewals."""
    data = random.Random(cut_at).randbytes(_SIZE)
    server.add("/f.bin", data, token="first")
    server.resources["/f.bin"].faults = Faults(cut_at=cut_at, expire_token_on_cut=True)
    return data, []


def _renew(server: FaultServer, asked: list[str]) -> str:
    asked.append(server.url("/f.bin"))
    return asked[-1]


def test_plain_reads_past_the_ranged_ones_hand_over_the_files_bytes(
    server: FaultServer, client: httpx.Client
) -> None:
    """Regression: ``RangeFile.read`` (a bytearray underneath) once got unset bytes
    from the third read on, when the rest came in one GET: a remote file over two
    blocks arrived corrupted."""
    data = random.Random(3).randbytes(_SIZE)
    server.add("/plain.bin", data)
    got = b"".join(
        remote_blocks(client, server.url("/plain.bin"), _SIZE, None, _RETRY, block=1 << 20)
    )
    assert got == data
    assert [r.headers["Range"] for r in server.requests_for("/plain.bin")][-1] == "bytes=2097152-"


def test_a_streamed_read_renews_the_link_and_resumes_at_the_byte_reached(
    server: FaultServer, client: httpx.Client
) -> None:
    cut = 3 * _SIZE // 4  # past the first ranged reads: inside the one streamed GET
    data, asked = _expiring(server, cut)
    url = server.url("/f.bin")
    got = b"".join(
        remote_blocks(
            client, url, _SIZE, None, _RETRY, block=256 << 10, renew=lambda: _renew(server, asked)
        )
    )
    assert got == data
    assert len(asked) == 1 and "token=first" not in asked[0]
    assert server.served["/f.bin"] <= 1.05 * _SIZE  # resumed, not started over
    statuses = [r.status for r in server.requests_for("/f.bin")]
    assert 403 in statuses
    renewed = [r for r in server.requests_for("/f.bin") if "token=first" not in r.query]
    first = int(renewed[0].headers["Range"].removeprefix("bytes=").split("-")[0])
    assert cut - (256 << 10) <= first <= cut  # where the read stopped, not byte 0


def test_a_ranged_read_renews_the_link_mid_range(server: FaultServer, client: httpx.Client) -> None:
    data, asked = _expiring(server, _SIZE // 2)
    remote = RangeFile(
        client, server.url("/f.bin"), _SIZE, None, _RETRY, lambda: _renew(server, asked)
    )
    remote.seek(_SIZE // 4)
    assert remote.read(_SIZE // 2) == data[_SIZE // 4 : 3 * _SIZE // 4]  # spans the cut
    assert remote.renewed == 1 and len(asked) == 1
    assert remote.fetched == _SIZE // 2  # not a byte read twice


def test_without_renew_an_expired_link_is_source_auth(
    server: FaultServer, client: httpx.Client
) -> None:
    _expiring(server, _SIZE // 2)
    with pytest.raises(FerrymanError) as refused:
        b"".join(remote_blocks(client, server.url("/f.bin"), _SIZE, None, _RETRY))
    assert refused.value.code == "source.auth"


def test_a_renewed_link_to_other_content_is_refused(
    server: FaultServer, client: httpx.Client
) -> None:
    _expiring(server, _SIZE // 2)
    server.add("/other.bin", b"o" * (_SIZE + 1), token="other")
    remote = io.BufferedReader(
        RangeFile(
            client, server.url("/f.bin"), _SIZE, None, _RETRY, lambda: server.url("/other.bin")
        )
    )
    with pytest.raises(FerrymanError) as refused:
        remote.read()
    assert refused.value.code == "source.http.changed"


def test_a_server_ignoring_ranges_hands_over_the_whole_file_in_one_get(
    server: FaultServer, client: httpx.Client
) -> None:
    """A remote folder's file (WebDAV, a debrid item) on a server that claims Range but
    sends the whole file: read in one GET from the start, not refused as changed."""
    data = random.Random(5).randbytes(_SIZE)
    resource = server.add("/whole.bin", data)
    resource.faults = Faults(ignore_range=True, claim_ranges=True)
    pinned = resource.etag
    got = b"".join(
        remote_blocks(client, server.url("/whole.bin"), _SIZE, pinned, _RETRY, block=1 << 20)
    )
    assert got == data
    changed = random.Random(6).randbytes(_SIZE)
    server.replace("/whole.bin", changed)  # a real change is still told apart
    with pytest.raises(FerrymanError) as caught:
        RangeFile(client, server.url("/whole.bin"), _SIZE, pinned, _RETRY).read(10)
    assert caught.value.code == "source.http.changed"


def test_a_range_read_waits_as_long_as_the_server_asks(
    server: FaultServer, client: httpx.Client
) -> None:
    """429 with `Retry-After: 1`, twice, to a read in place: the next request comes a
    second later each time, not after the short backoff (it asked four times in the
    server's 20 s); a wait longer than `retry.max_seconds` is handed to the engine."""
    import time

    from ferryman.net.http import HttpWait

    data = random.Random(8).randbytes(1 << 16)
    resource = server.add("/busy.bin", data)
    resource.faults = Faults(status=429, status_times=2, retry_after="1")
    patient = Retry(max_attempts=3, base_seconds=0.01, max_seconds=5, jitter=0)
    started = time.monotonic()
    got = RangeFile(client, server.url("/busy.bin"), len(data), None, patient).read(100)
    assert got == data[:100]
    assert time.monotonic() - started >= 2.0  # two waits of the server's second
    asked = [r.status for r in server.requests_for("/busy.bin")]
    assert asked == [429, 429, 206]

    resource.faults = Faults(status=429, status_times=1, retry_after="60")
    with pytest.raises(HttpWait) as caught:  # 60 s > max_seconds 5: the engine's to keep
        RangeFile(client, server.url("/busy.bin"), len(data), None, patient).read(100)
    assert caught.value.seconds == 60
