"""rclone's connection strings through the API, in process (httpx over ASGI, a real
rclone for the checks): an administrator may name one wherever a remote goes; a person
(whose own rclone.conf the server keeps) is refused any, as an input, a destination, a
watched folder or a watch's ``move:``, with ``rclone.conn_refused`` (403) and a next step
naming their own rclone.conf, nothing recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.net.rclone import rclone_binary
from ferryman.net.rclone_conf import KeptRclone
from ferryman.samples import make_zip
from ferryman.store.memory.store import MemoryStore
from ferryman.web.accounts.passwords import hash_password
from ferryman.web.server import web_app
from tests.sinks.test_rclone_sink import TREE, _photos

pytestmark = pytest.mark.skipif(rclone_binary() is None, reason="rclone is not installed here")

API = "/api/v1"


@asynccontextmanager
async def _client(served: Any, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=served.app, client=("10.1.2.3", 5000)),
        base_url="http://127.0.0.1",
        headers={"x-ferryman-csrf": "1"},
    ) as client:
        answer = await client.post(
            f"{API}/session/password", json={"name": name, "password": "pw-" + name * 3}
        )
        assert answer.status_code == 204, answer.text
        yield client


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "rclone.conn_refused", error
    assert "own rclone.conf" in error["next"], error


async def test_a_person_is_refused_a_connection_string_an_administrator_is_not(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()
    await store.add_user("root", hash_password("pw-" + "root" * 3), True)
    ann = await store.add_user("ann", hash_password("pw-" + "ann" * 3), False)
    KeptRclone(settings.data_dir, ann.id).put(b"[anndrive]\ntype = drive\n")
    remote = tmp_path / "remote"
    remote.mkdir()
    make_zip(remote / "trip.zip", _photos(tmp_path / "in", TREE))
    on_the_fly = f"rclone::local:{remote}/trip.zip"
    keyed = "anndrive,service_account_file=/etc/ssh/ssh_host_ed25519_key:out"
    async with (
        web_app(settings, store, EventBus(), lambda: True) as served,
        _client(served, "ann") as her,
        _client(served, "root") as root,
    ):
        _refused(await her.post(f"{API}/jobs", json={"source": on_the_fly}))
        to_keyed = {"source": "rclone:anndrive:a.zip", "deliver": {"to": "rclone", "chat": keyed}}
        _refused(await her.post(f"{API}/jobs", json=to_keyed))
        watch = {"source": f"rclone::local:{remote}", "to": "link:"}
        _refused(await her.post(f"{API}/watches", json=watch))
        moving = {"source": "rclone:anndrive:in", "to": "link:", "then": f"move::local:{remote}"}
        _refused(await her.post(f"{API}/watches", json=moving))
        assert (await her.get(f"{API}/watches")).json()["watches"] == []
        # Her own remote, named alone: taken (the refusal is the connection string's).
        plain = await her.post(f"{API}/jobs", json={"source": "rclone:anndrive:a.zip"})
        assert plain.status_code == 202, plain.text

        made = await root.post(f"{API}/jobs", json={"source": on_the_fly})
        assert made.status_code == 202, made.text
        job = await store.get_job(int(made.json()["id"]))
        assert job.source == on_the_fly  # recorded as typed: a restart reads the same
        at_root = {"source": f"rclone::local:{remote}", "to": "link:"}
        assert (await root.post(f"{API}/watches", json=at_root)).status_code == 201
