"""A phone without a network (airplane mode, a tunnel) waits for one instead of
failing its links: a connection that cannot be made with no route out at all is
``network.offline``, rechecked and never counted as an attempt.

The phone is a network namespace of the test's making with its route out taken away;
the link's server is a real HTTP server on the host, reached through a forwarder.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.samples import make_photo_set, make_zip
from tests import netns
from tests.engine_helpers import library_files
from tests.httpserve import FaultServer, serving
from tests.test_crash import _add, _env


@pytest.fixture
def network() -> Iterator[netns.Network]:
    why = netns.available()
    if why is not None:
        pytest.skip(f"a phone without a network needs a network namespace: {why}")
    with netns.network() as net:
        yield net


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


def _fetch_state(db: Path) -> tuple[str, str | None, int]:
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        row = conn.execute("SELECT state, error_code, attempts FROM fetches").fetchone()
    return str(row[0]), row[1], int(row[2])


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


@pytest.mark.slow
def test_a_link_added_offline_waits_for_the_network_and_then_arrives(
    tmp_path: Path, network: netns.Network, server: FaultServer
) -> None:
    photos = make_photo_set(tmp_path / "p", 4)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos], compress=False)
    server.add("/trip.zip", archive.read_bytes(), content_type="application/zip")
    network.add("phone")
    link = network.reach(server.url("/trip.zip"))
    data = tmp_path / "data"
    env = _env(
        data,
        FERRYMAN_NETWORK__BLOCK_PRIVATE="false",
        FERRYMAN_NETWORK__RECHECK_SECONDS="0.3",
        FERRYMAN_RETRY__BASE_SECONDS="0.05",  # five counted attempts: gone within ~2 s
        FERRYMAN_RETRY__MAX_SECONDS="0.2",
    )
    _add([link], env)  # type: ignore[list-item]
    network.offline("phone")
    run = subprocess.Popen(
        [*network.prefix("phone"), sys.executable, "-m", "ferryman", "run", "--until-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(4)  # many times what five counted attempts take
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        state, code, attempts = _fetch_state(data / "ferryman.db")
        assert (state, code, attempts) == ("queued", "network.offline", 0)
        network.mend("phone")
        assert run.wait(60) == 0, run.stderr.read() if run.stderr else ""
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert _fetch_state(data / "ferryman.db")[0] == "done"
    assert len(library_files(data / "library")) == 4
