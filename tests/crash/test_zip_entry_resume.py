"""A big stored entry of a zip read in place over HTTP, `ferryman run` SIGKILLed while its
bytes are staged: the next run keeps what the killed one made durable of it (the part's
length in its record), reads that back from the disk for the hash and the CRC-32, and
asks the server only for the rest (``engine/read/resume.py``). Before, the entry was read
again from its first byte (a 1 GB zip of 50 MB entries cost 1.22x under ten kills).

The zip is made by Python's zipfile (``samples.make_bulk_zip``: entries stored, a small
JPEG and random padding each); the server is the tests' own, on loopback, counting the
body bytes it sends; what reaches the library is checked by SHA-256 against the zip's."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest

from ferryman.samples.archives import make_bulk_zip
from tests.crash.test_zip_in_place_kills import _env  # the same run, its data dir and settings
from tests.support import forked
from tests.support.httpserve import FaultServer, Link, serving
from tests.support.waiting import eventually_sync

MB = 1_000_000
MIB = 1 << 20
ENTRY = 8 * MB
KILL_AT = 5 * MB  # sent of the first entry when the run is killed


def _zip(root: Path) -> tuple[bytes, dict[str, str], tuple[int, int]]:
    """The zip's bytes, each entry's SHA-256 by its name, and where the first entry's
    data lies (start, end)."""
    path = make_bulk_zip(root / "made" / "trip.zip", total_bytes=3 * ENTRY, entry_bytes=ENTRY)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        assert {m.compress_type for m in members} == {zipfile.ZIP_STORED}
        sums = {Path(m.filename).name: hashlib.sha256(zf.read(m)).hexdigest() for m in members}
        first = members[0]
    head = first.header_offset
    start = head + 30 + int.from_bytes(data[head + 26 : head + 28], "little")
    start += int.from_bytes(data[head + 28 : head + 30], "little")
    return data, sums, (start, start + first.compress_size)


def _killed_inside_the_first_entry(server: FaultServer, env: dict[str, str]) -> int:
    """`ferryman run` SIGKILLed once the server has sent ``KILL_AT`` bytes of the zip;
    what it had sent then."""
    proc = forked.popen(
        ["run", "--until-idle"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    eventually_sync(
        lambda: proc.poll() is not None or server.served["/trip.zip"] >= KILL_AT,
        "the first entry's bytes flowing",
        within=120,
        every=0.005,
    )
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return server.served["/trip.zip"]


def _finish(env: dict[str, str]) -> None:
    final = forked.popen(["run", "--until-idle"], env=env, stderr=subprocess.PIPE)
    assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""


def _delivered(lib: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in lib.rglob("*.jpg")}


def _record(root: Path) -> Path:
    (record,) = (root / "data").rglob("*.part.resume")
    return record


def _part(root: Path) -> Path:
    record = _record(root)
    return record.with_name(record.name.removesuffix(".resume"))


def _added(server: FaultServer, root: Path, data: bytes) -> dict[str, str]:
    server.add("/trip.zip", data)
    env = _env(root)
    added = forked.run(
        ["add", server.url("/trip.zip"), "--to", f"library:{root / 'lib'}"],
        env=env,
        capture_output=True,
    )
    assert added.returncode == 0, added.stderr
    return env


def _ranges_after(server: FaultServer, seen: int) -> list[tuple[int, int]]:
    """The ranges asked for by the requests after the first ``seen``."""
    out = []
    for request in server.requests_for("/trip.zip")[seen:]:
        value = request.headers.get("Range")
        if request.method == "GET" and value:
            first, _, last = value.removeprefix("bytes=").partition("-")
            out.append((int(first), int(last) if last else -1))
    return out


@pytest.mark.slow
def test_an_entry_killed_mid_way_is_resumed_from_its_middle(tmp_path: Path) -> None:
    data, sums, (start, end) = _zip(tmp_path)
    # At 4 MB/s the kill lands within the first entry (8 MB), well past its first MiB.
    with serving(Link(bandwidth=4 * MB)) as server:
        env = _added(server, tmp_path, data)
        at_kill = _killed_inside_the_first_entry(server, env)
        assert KILL_AT <= at_kill < end
        seen = len(server.requests_for("/trip.zip"))
        _finish(env)
        served = server.served["/trip.zip"]
        ranges = _ranges_after(server, seen)
    assert _delivered(tmp_path / "lib") == sums
    # The restart asked for no byte of the first entry's first MiB but its local
    # header (30 bytes and its name): it went on from where the record said.
    into_the_head = [r for r in ranges if r[0] < start + MIB and r[1] >= start]
    assert not into_the_head, ranges
    resumed_at = min(r[0] for r in ranges if start + MIB <= r[0] < end)
    assert resumed_at <= at_kill
    # What was sent twice: what was asked ahead of the last checkpoint, not the
    # first entry's five megabytes (before: served ≈ the zip and all sent before the kill).
    print(f"served {served / len(data):.3f}x, resumed at {resumed_at} of the entry's {end}")
    assert served <= len(data) + (at_kill - resumed_at) + 64 * 1024
    assert served - len(data) < at_kill - start - MIB


@pytest.mark.slow
def test_a_kept_part_whose_bytes_were_changed_is_read_again_whole(tmp_path: Path) -> None:
    """A byte of the kept part flipped after the kill: the CRC-32 carried over does not
    match the zip's at the entry's end, and the entry is read again from its first byte;
    what is delivered is still the entry's own bytes."""
    data, sums, (_, end) = _zip(tmp_path)
    with serving(Link(bandwidth=4 * MB)) as server:
        env = _added(server, tmp_path, data)
        at_kill = _killed_inside_the_first_entry(server, env)
        assert at_kill < end
        part = _part(tmp_path)
        with part.open("r+b") as handle:
            handle.seek(MIB // 2)
            byte = handle.read(1)
            handle.seek(MIB // 2)
            handle.write(bytes([byte[0] ^ 0xFF]))
        _finish(env)
        served = server.served["/trip.zip"]
    assert _delivered(tmp_path / "lib") == sums
    assert served >= len(data) + ENTRY - MIB  # the first entry crossed the link again


@pytest.mark.slow
def test_a_torn_part_shorter_than_its_record_goes_on_from_what_is_there(tmp_path: Path) -> None:
    """The part holds fewer bytes than its record vouches for (torn): it is cut to what
    is there and the rest is asked for from there; the entry delivered is whole."""
    data, sums, (start, end) = _zip(tmp_path)
    with serving(Link(bandwidth=4 * MB)) as server:
        env = _added(server, tmp_path, data)
        _killed_inside_the_first_entry(server, env)
        part = _part(tmp_path)
        assert part.stat().st_size > 2 * MIB
        os.truncate(part, MIB)
        seen = len(server.requests_for("/trip.zip"))
        _finish(env)
        ranges = _ranges_after(server, seen)
    assert _delivered(tmp_path / "lib") == sums
    assert min(r[0] for r in ranges if start < r[0] < end) == start + MIB
