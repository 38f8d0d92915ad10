"""A malformed link through each front door ends in one coded refusal with its next step
(issue 44, item 4): the API answers 4xx with a code (a bare 500 before), ``ferryman
add`` and ``watch add`` exit non-zero with a coded line (a traceback before), and the
chat replies with the code (the handler died before, answering nothing)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from ferryman.web.server import web_app
from tests.support import forked
from tests.telegram.test_telegram_frontdoor import World, make_world, reply_to, serving

REPORTED = [
    "http://[::1",
    "http://a:99999/x",
    "http://a:-1/x",
    "http://a\u202eb/x",
    "http://a..b/x",
    "davs://a:99999/",
]


async def test_the_api_refuses_malformed_links_with_a_code(
    tmp_path: Path, settings: Settings
) -> None:
    """POST /jobs (a source), POST /watches (a source, a notice URL): 4xx with a code and
    the page's next step, nothing recorded. ASGITransport raises what the app raised, so
    a crash shows as an exception here."""
    store = MemoryStore()  # the API's answer, not the database's
    try:
        async with (
            web_app(settings, store, EventBus(), lambda: True) as served,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
            ) as client,
        ):
            for link in REPORTED:
                job = await client.post("/api/v1/jobs", json={"source": link})
                assert 400 <= job.status_code < 500, (link, job.text)
                assert job.json()["error"]["code"] == "link.invalid", (link, job.text)
                assert job.json()["error"]["next"]
                watch = await client.post("/api/v1/watches", json={"source": link, "to": "link:"})
                assert 400 <= watch.status_code < 500, (link, watch.text)
                assert watch.json()["error"]["code"] == "link.invalid", (link, watch.text)
            for url in ("json://[::1", "ferryman://a:99999/x", "ferrymans://a..b/", "ntfy://\x1b"):
                body = {"source": "torbox:torrent/1", "to": "link:", "notify": url}
                noticed = await client.post("/api/v1/watches", json=body)
                assert noticed.status_code == 400, (url, noticed.text)
                assert noticed.json()["error"]["code"] == "notify.bad_url", (url, noticed.text)
            surrogate = await client.post(
                "/api/v1/jobs",
                content=b'{"source": "http://a\\ud800b/"}',
                headers={"content-type": "application/json"},
            )
            assert surrogate.status_code == 422, surrogate.text  # no str holds it
            assert surrogate.json()["error"]["code"] == "request.invalid"
        assert await store.list_jobs() == [] and await store.list_watches() == []
    finally:
        await store.close()


def _ferryman(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"FERRYMAN_SPACE_FLOOR": "0", "FERRYMAN_POLL_SECONDS": "0.05"}
    return forked.run(
        ["--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["add", *REPORTED],
        ["watch", "add", "davs://a:99999/", "--to", "library:"],
        ["add", "--notify", "ferryman://[::1", "torbox:torrent/1"],
    ],
    ids=["add", "watch", "notify"],
)
def test_the_cli_refuses_malformed_links_with_a_coded_line(tmp_path: Path, args: list[str]) -> None:
    """A child process, as a person runs it: non-zero, a coded line per input with its
    next step, and no traceback."""
    done = _ferryman(tmp_path / "data", *args)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error ")]
    expected = len(REPORTED) if args[0] == "add" and "--notify" not in args else 1
    assert len(errors) == expected, done.stderr
    assert all(
        line.startswith(("error link.invalid:", "error notify.bad_url:")) for line in errors
    ), done.stderr
    assert sum(1 for line in lines if line.startswith("  next: ")) == expected, done.stderr


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[World]:
    w = make_world(tmp_path)
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        yield w
    finally:
        await w.store.close()


async def test_the_chat_answers_a_malformed_link_with_its_code(chat: World) -> None:
    """A link in a message, a `/watch` of one: each answered with the code and its next
    step (before, the handler raised ValueError and the person heard nothing)."""
    world = chat
    async with serving(world):
        answer = await reply_to(world, world.alice, "get http://a:99999/x please")
        assert "(link.invalid)" in answer, answer
        assert "copy it again in full" in answer
        watched = await reply_to(world, world.alice, "/watch http://[::1/feed to library:")
        assert watched.startswith("link.invalid"), watched
    assert await world.store.list_jobs() == [] and await world.store.list_watches() == []
