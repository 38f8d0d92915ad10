"""Several nodes on one queue: three `ferryman run` workers, each its own process and node
name, on one PostgreSQL store and one S3 bucket for results, sharing the data dir (the
work area on shared storage, as several machines would mount it). Sixty mixed jobs;
one node is SIGKILLed while it holds work, a fresh one joins; every photo arrives in
the bucket exactly once, no job is left behind, and the dead node's work is done by the
others.

Where the machine allows it (root, ``ip netns``), each node runs in a network namespace
of its own and reaches the database, the bucket and the links' site across a link
(tests/support/netns.py), and one more node has its cable pulled while it holds work: it goes
silent, the others take its work over, and once its link is back it beats and works
again. Elsewhere the nodes are processes on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.engine.ops import nodes as node_views
from ferryman.engine.ops import report
from ferryman.net.s3 import S3Client, S3Target
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.conftest import PG_DSN, _reset_postgres
from tests.crash.test_crash import _env
from tests.support import forked, netns
from tests.support.httpserve import Link, serving
from tests.support.s3serve import S3Server
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.slow

JOBS_EACH = 20  # of each kind: zips, folders, links to zips
LEASE = 3.0  # a killed node's work is taken again within seconds
# The wait for every job to end lasts most of the test (minutes on a loaded machine), and
# each look builds the status of sixty jobs on PostgreSQL: at 0.1 s, a quarter of the test
# process's busy samples (py-spy); at 0.5 its CPU went 23.8 -> 21.6 s (docs/testing.md). Half a
# second adds at most that to a wait of minutes; the waits for a moment (a node holding
# work) stay at 0.1 s.
POLL_ENDED = 0.5


def _ferryman(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return forked.run(args, env=env, capture_output=True, text=True)


def _node(name: str, env: dict[str, str], logs: Path, net: netns.Network | None) -> forked.Process:
    """``ferryman run`` as node ``name``: in a namespace of its own when ``net`` is given."""
    options: dict[str, Any] = {}
    if net is not None:
        net.add(name)
        options["netns"] = net.namespace(name)  # the fork enters it (not a start afresh)
    with open(logs / f"{name}.log", "wb") as log:  # the child keeps its own copy
        env = env | {"FERRYMAN_NODE_NAME": name}
        return forked.popen(["run"], env=env, stdout=subprocess.DEVNULL, stderr=log, **options)


def _workers(env: dict[str, str]) -> list[dict[str, Any]]:
    listed = _ferryman("workers", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    runs: list[dict[str, Any]] = json.loads(listed.stdout)
    return runs


def _jobs(env: dict[str, str]) -> list[dict[str, Any]]:
    status = _ferryman("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    jobs: list[dict[str, Any]] = json.loads(status.stdout)["jobs"]
    return jobs


class _Views:
    """What `ferryman workers --json` and `status --json` print, read in this process for
    the polls: a CLI process each time cost 0.6 CPU-seconds, taken from the nodes on a
    2-core machine. The views the test asserts at the end are the CLI's."""

    def __init__(self, dsn: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = self.loop.run_until_complete(Store.open(dsn))

    def workers(self) -> list[dict[str, Any]]:
        return self.loop.run_until_complete(node_views.workers(self.store, LEASE))

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.loop.run_until_complete(report.status(self.store))["jobs"]
        return jobs

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


async def _bucket_hashes(s3: dict[str, Any]) -> tuple[list[str], int]:
    """The delivered files' hashes, and how many previews (the gallery's) lie beside them."""
    client = S3Client(S3Target(**s3))
    try:
        found = []
        previews = 0
        for obj in await client.list(""):
            if "/.thumbs/" in obj.key:
                previews += 1
            elif not obj.key.endswith("manifest.json"):
                body = await client.get_bytes(obj.key)
                assert body is not None
                found.append(hashlib.sha256(body).hexdigest())
        return found, previews
    finally:
        await client.close()


@pytest.fixture
def network() -> Iterator[netns.Network | None]:
    """Namespaces for the nodes where this machine allows them, else None (loopback)."""
    if netns.available() is not None:
        yield None
        return
    with netns.network() as net:
        yield net


def test_three_nodes_one_killed_one_joining_deliver_everything_once(
    tmp_path: Path, s3_server: S3Server, network: netns.Network | None
) -> None:
    if not PG_DSN:
        pytest.skip("several nodes share a queue on PostgreSQL: FERRYMAN_TEST_PG_DSN")
    asyncio.run(_reset_postgres(PG_DSN))
    s3 = s3_server.settings()
    s3_server.make_bucket(s3)
    env = _env(
        tmp_path / "data",
        FERRYMAN_DATABASE_URL=PG_DSN,
        FERRYMAN_LEASE_SECONDS=str(LEASE),
        FERRYMAN_NETWORK__BLOCK_PRIVATE="false",
        **{f"FERRYMAN_RESULTS__S3__{k.upper()}": str(v) for k, v in s3.items()},
    )
    node_env = env  # what a node is given: on its own network, the services' addresses
    if network is not None:
        node_env = env | {
            "FERRYMAN_DATABASE_URL": network.reach(PG_DSN),
            "FERRYMAN_RESULTS__S3__ENDPOINT": network.reach(str(s3["endpoint"])),
        }
    logs = tmp_path / "logs"
    logs.mkdir()

    inputs: list[str] = []
    photos: list[Path] = []
    site_host = netns.SERVICE if network is not None else "127.0.0.1"
    with serving(Link(latency=0.4), host=site_host) as site:  # slow answers: work in flight
        for n in range(JOBS_EACH):
            zipped = make_photo_set(tmp_path / f"z{n}", 3, start_seed=1000 + 10 * n)
            archive = make_zip(tmp_path / f"zip-{n}.zip", [(p.name, p) for p in zipped])
            folder = make_photo_set(tmp_path / f"folder-{n}", 2, start_seed=5000 + 10 * n)
            linked = make_photo_set(tmp_path / f"l{n}", 2, start_seed=9000 + 10 * n)
            site.add(
                f"/link-{n}.zip",
                make_zip(tmp_path / f"link-{n}.zip", [(p.name, p) for p in linked]).read_bytes(),
                content_type="application/zip",
            )
            inputs += [str(archive), str(folder[0].parent), site.url(f"/link-{n}.zip")]
            photos += [*zipped, *folder, *linked]
        added = _ferryman("add", "--to", "link:", *inputs, env=env)
        assert added.returncode == 0, added.stderr

        views = _Views(PG_DSN)
        nodes = {
            name: _node(name, node_env, logs, network) for name in ("node-a", "node-b", "node-c")
        }
        try:

            def b_holds() -> dict[str, int] | None:  # node-b holds work: kill it there
                held = {r["node"]: r["held"] for r in views.workers() if r["state"] == "alive"}
                return held if held.get("node-b", 0) > 0 and len(held) == 3 else None

            held = eventually_sync(b_holds, "node-b holding work", within=120, every=0.1)
            nodes["node-b"].send_signal(signal.SIGKILL)
            nodes["node-b"].wait(10)
            killed_holding = held["node-b"]
            nodes["node-d"] = _node("node-d", node_env, logs, network)
            cut_holding = _partition(network, "node-c", views) if network is not None else None

            eventually_sync(  # minutes: a status of sixty jobs read twice a second, not ten
                lambda: all(j["state"] in ("done", "failed", "cancelled") for j in views.jobs()),
                "every job ended",
                within=240,
                every=POLL_ENDED,
            )

            def alive() -> bool:  # a node cut off beats again once it is back
                states = {r["node"]: r["state"] for r in views.workers()}
                return {states.get(n) for n in ("node-a", "node-c", "node-d")} == {"alive"}

            eventually_sync(alive, "nodes a, c and d alive", within=60, every=0.1)
            jobs = _jobs(env)  # the CLI's views of it: every job ended, every node alive
            runs = _workers(env)
            states = {r["node"]: r["state"] for r in runs}
            assert {states[n] for n in ("node-a", "node-c", "node-d")} == {"alive"}, states
        finally:
            views.close()
            for process in nodes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for name, process in nodes.items():
                try:
                    code = process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    code = process.wait()
                if name != "node-b":
                    assert code == 0, (logs / f"{name}.log").read_text()[-3000:]

    assert len(jobs) == 3 * JOBS_EACH
    assert [j["id"] for j in jobs if j["state"] != "done"] == []
    delivered, previews = asyncio.run(_bucket_hashes(s3))
    expected = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in photos)
    assert sorted(delivered) == expected  # each photo once: none lost, none twice
    assert previews == len(photos)  # and each one's preview
    assert states["node-b"] in ("alive", "silent") and killed_holding > 0
    assert all(r["held"] == 0 for r in runs)  # nothing held at the end, the dead node's too
    if network is not None:  # node-c was cut off holding work, then came back and went on
        assert cut_holding is not None and cut_holding > 0
        assert _reaches_host_loopback(network, "node-a") is False  # each node its own network


def _partition(net: netns.Network, node: str, views: _Views) -> int:
    """Pull ``node``'s cable while it holds work, until the others see it silent; mend it.

    Returns what it held. Its leases lapse while it is away, so the others take its work
    over; when its link returns, its late writes must find the work no longer its own.
    """

    def holds() -> dict[str, int] | None:
        held = {r["node"]: r["held"] for r in views.workers() if r["state"] == "alive"}
        return held if held.get(node, 0) > 0 else None

    held = eventually_sync(holds, f"{node} holding work", within=120, every=0.1)
    net.cut(node)
    try:
        eventually_sync(
            lambda: {r["node"]: r["state"] for r in views.workers()}.get(node) == "silent",
            f"{node} cut off, seen silent",
            within=60,
            every=0.2,
        )
    finally:
        net.mend(node)
    return int(held[node])


def _reaches_host_loopback(net: netns.Network, node: str) -> bool:
    """Whether a process on ``node`` reaches the host's PostgreSQL at 127.0.0.1."""
    probe = "import socket,sys; s=socket.socket(); s.settimeout(2);"
    probe += " sys.exit(s.connect_ex(('127.0.0.1', 5432)) == 0)"
    ran = subprocess.run([*net.prefix(node), sys.executable, "-c", probe])
    return ran.returncode == 1
