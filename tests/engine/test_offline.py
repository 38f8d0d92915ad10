"""A phone without a network (airplane mode, a tunnel) waits for one instead of
failing its links: a connection that cannot be made with no route out at all is
``network.offline``, rechecked and never counted as an attempt.

The phone is a network namespace of the test's making with its route out taken away;
the link's server (a real HTTP server) and the WebDAV server (wsgidav) run on the host,
reached through forwarders.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.samples import make_photo_set, make_zip
from tests.crash.test_crash import _add, _env
from tests.support import netns
from tests.support.davserve import dav_serving
from tests.support.engine_helpers import library_files
from tests.support.httpserve import FaultServer, serving
from tests.support.waiting import eventually_sync


@pytest.fixture
def network() -> Iterator[netns.Network]:
    with netns.network_or_skip("a phone without a network") as net:
        yield net


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


def test_device_online_reads_the_routing_table(network: netns.Network) -> None:
    network.add("phone")
    probe = "from ferryman.device.conditions import Device; print(Device().online())"

    def online() -> str:
        ran = subprocess.run(
            [*network.prefix("phone"), sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
        )
        return ran.stdout.strip()

    assert online() == "True"
    network.offline("phone")
    assert online() == "False"
    network.mend("phone")
    assert online() == "True"
    network.cut("phone")  # a pulled cable: the route stays, marked linkdown
    assert online() == "False"
    network.mend("phone")
    assert online() == "True"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["link", "webdav"])
def test_an_input_added_offline_waits_for_the_network_and_then_arrives(
    tmp_path: Path, network: netns.Network, server: FaultServer, kind: str
) -> None:
    """An http link (the fetch stage) and a WebDAV folder (read by the read stage),
    added on a phone with no route out: each waits `network.offline`, uncounted, over
    more rechecks than five counted attempts (they failed for good), then arrives."""
    photos = make_photo_set(tmp_path / "p", 4)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos], compress=False)
    with contextlib.ExitStack() as stack:
        if kind == "link":
            server.add("/trip.zip", archive.read_bytes(), content_type="application/zip")
            given = server.url("/trip.zip")
        else:
            root = tmp_path / "dav"
            (root / "Trip").mkdir(parents=True)
            for photo in photos:
                (root / "Trip" / photo.name).write_bytes(photo.read_bytes())
            dav = stack.enter_context(dav_serving(root))
            given = dav.uri("Trip/", login=True)
        network.add("phone")
        _offline_then_online(tmp_path, network, network.reach(given), kind)
    assert len(library_files(tmp_path / "data" / "library")) == 4


def _state(db: Path, kind: str) -> tuple[str, str | None, int]:
    table, wait = ("fetches", "error_code") if kind == "link" else ("jobs", "wait_reason")
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        row = conn.execute(f"SELECT state, {wait}, attempts FROM {table}").fetchone()
    return str(row[0]), row[1], int(row[2])


def _rechecked(db: Path, kind: str, seen: set[float]) -> int:
    """How many offline rechecks were seen: each one that meets no network puts the work
    back, uncounted if right, at a moment of its own (a fetch's ``not_before``, a job's
    ``updated_at``). More of them than a failure's five counted attempts: no window
    waited out in the child's real time."""
    table, wait, moment = (
        ("fetches", "error_code", "not_before")
        if kind == "link"
        else ("jobs", "wait_reason", "updated_at")
    )
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        row = conn.execute(f"SELECT {moment}, {wait} FROM {table}").fetchone()
    if row is not None and row[0] and row[1] == "network.offline":
        seen.add(float(row[0]))
    return len(seen)


def _phone_env(data: Path, **extra: str) -> dict[str, str]:
    return _env(
        data,
        FERRYMAN_NETWORK__BLOCK_PRIVATE="false",
        FERRYMAN_NETWORK__RECHECK_SECONDS="0.3",
        FERRYMAN_RETRY__BASE_SECONDS="0.05",  # five counted attempts: gone within ~2 s
        FERRYMAN_RETRY__MAX_SECONDS="0.2",
        **extra,
    )


@contextlib.contextmanager
def _running_on_phone(
    network: netns.Network, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """`ferryman run --until-idle` on the phone's network; killed if the test fails."""
    run = subprocess.Popen(
        [*network.prefix("phone"), sys.executable, "-m", "ferryman", "run", "--until-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield run
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def _back_online(network: netns.Network, run: subprocess.Popen[bytes], within: float) -> None:
    """The network returns: the run must finish everything and end well."""
    network.mend("phone")
    assert run.wait(within) == 0, run.stderr.read() if run.stderr else ""


def _offline_then_online(tmp_path: Path, network: netns.Network, given: str, kind: str) -> None:
    data = tmp_path / "data"
    env = _phone_env(data)
    _add([given], env)  # type: ignore[list-item]
    network.offline("phone")
    with _running_on_phone(network, env) as run:
        # The run starts (seconds on a loaded machine) and meets no route out: from the
        # first offline wait on, it must go on waiting, uncounted.
        db, seen = data / "ferryman.db", set[float]()
        eventually_sync(
            lambda: run.poll() is not None or _rechecked(db, kind, seen) > 5,
            "six rechecks offline",
            within=60,
            every=0.05,
        )
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        # Waiting, uncounted: between rechecks (queued) or in one (every 0.3 s it is
        # claimed again to look: a sample once caught it 'fetching').
        state, code, attempts = _state(data / "ferryman.db", kind)
        rechecking = "fetching" if kind == "link" else "reading"
        assert state in ("queued", rechecking) and attempts == 0, (state, code, attempts)
        assert state == rechecking or code == "network.offline", (state, code)
        _back_online(network, run, 60)


@pytest.mark.slow
def test_a_webdav_folder_whose_network_goes_mid_read_waits_and_reads_on(
    tmp_path: Path, network: netns.Network
) -> None:
    """The read stage reads a folder's files after the walk: the network going then
    makes the job wait too, uncounted, and the reading goes on from where it stopped."""
    photos = make_photo_set(tmp_path / "p", 300, size=(96, 72))
    root = tmp_path / "dav"
    (root / "Trip").mkdir(parents=True)
    for photo in photos:
        (root / "Trip" / photo.name).write_bytes(photo.read_bytes())
    data = tmp_path / "data"
    env = _phone_env(data, FERRYMAN_NETWORK__STALL_SECONDS="2")
    with dav_serving(root) as dav:
        network.add("phone")
        _add([network.reach(dav.uri("Trip/", login=True))], env)  # type: ignore[list-item]
        with _running_on_phone(network, env) as run:
            db = data / "ferryman.db"

            def recorded() -> bool:
                assert run.poll() is None, run.stderr.read() if run.stderr else ""
                return _recorded(db) >= 20

            eventually_sync(recorded, "20 items recorded", within=60, every=0.01)
            network.offline("phone")

            def offline() -> bool:
                assert run.poll() is None, run.stderr.read() if run.stderr else ""
                return _state(db, "webdav") == ("queued", "network.offline", 0)

            # the stalled read noticed, its retries spent
            eventually_sync(offline, "waiting offline, uncounted", within=60, every=0.2)
            seen = set[float]()
            eventually_sync(
                lambda: run.poll() is not None or _rechecked(db, "webdav", seen) > 5,
                "six rechecks offline",
                within=60,
                every=0.05,
            )
            assert run.poll() is None, run.stderr.read() if run.stderr else ""
            state, _, attempts = _state(db, "webdav")  # between rechecks, or trying again
            assert state in ("queued", "reading") and attempts == 0
            assert _recorded(db) < 300  # it stopped for want of a network, not done
            _back_online(network, run, 120)
    assert len(library_files(data / "library")) == 300


def _recorded(db: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
