"""Accounts through the API, in process (the app on a real SQLite store, httpx over
ASGI): two people signed in at once each see and control only their own jobs, watches,
links and events, whatever number they guess; an administrator sees both; a person's
own token, shown once, works until revoked; a limit is refused with its code; sign-ins
and administrators' actions are audited, for administrators only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from ferryman.config import Settings
from ferryman.engine.plumbing.events import EventBus
from ferryman.store.memory.store import MemoryStore
from ferryman.web.accounts.passwords import hash_password
from ferryman.web.server import web_app

API = "/api/v1"
CSRF = {"x-ferryman-csrf": "1"}


@asynccontextmanager
async def _app(settings: Settings, store: MemoryStore) -> AsyncIterator[Any]:
    async with web_app(settings, store, EventBus(), lambda: True) as served:
        yield served


def _client(served: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=served.app, client=("10.1.2.3", 5000)),
        base_url="http://127.0.0.1",
        headers=CSRF,
    )


async def _signed_in(client: httpx.AsyncClient, name: str) -> None:
    answer = await client.post(
        f"{API}/session/password", json={"name": name, "password": "pw-" + name * 3}
    )
    assert answer.status_code == 204, answer.text


async def _people(store: MemoryStore) -> None:
    for name, admin in (("root", True), ("ann", False), ("bob", False)):
        await store.add_user(name, hash_password("pw-" + name * 3), admin)


async def _job(client: httpx.AsyncClient, link: str) -> int:
    made = await client.post(f"{API}/jobs", json={"source": link, "deliver": {"to": "link"}})
    assert made.status_code == 202, made.text
    return int(made.json()["id"])


def _ids(polled: dict[str, Any]) -> set[int]:
    """The jobs a poll's messages (a snapshot's or a job's) tell of."""
    found = set()
    for message in polled["messages"]:
        views = message.get("jobs") or [message.get("job") or {}]
        found |= {int(v["id"]) for v in views if "id" in v}
    return found


def _code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


async def test_two_people_see_and_control_only_their_own_jobs(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    watching = settings.watch.model_copy(update={"folders": [str(folder)]})
    settings = settings.model_copy(update={"watch": watching})
    store = MemoryStore()  # the web's doors, not the database's
    await _people(store)
    try:
        async with (
            _app(settings, store) as served,
            _client(served) as ann,
            _client(served) as bob,
            _client(served) as root,
            _client(served) as stranger,
        ):
            # With accounts, the loopback page is no longer open to whoever connects.
            refused = await stranger.get(f"{API}/jobs")
            assert refused.status_code == 401 and _code(refused) == "auth.required"
            wrong = await stranger.post(
                f"{API}/session/password", json={"name": "ann", "password": "not hers"}
            )
            assert wrong.status_code == 401 and _code(wrong) == "account.sign_in"
            for client, name in ((ann, "ann"), (bob, "bob"), (root, "root")):
                await _signed_in(client, name)
            hers = await _job(ann, "https://example.com/ann.zip")
            his = await _job(bob, "https://example.com/bob.zip")
            # The same link from another person is theirs, not "already job N" (hers).
            same = await bob.post(
                f"{API}/jobs",
                json={"source": "https://example.com/ann.zip", "deliver": {"to": "link"}},
            )
            assert same.status_code == 202, same.text
            assert (await bob.post(f"{API}/jobs/{same.json()['id']}/cancel")).status_code == 200
            assert (await bob.delete(f"{API}/jobs/{same.json()['id']}")).status_code == 204
            twice = await ann.post(
                f"{API}/jobs",
                json={"source": "https://example.com/ann.zip", "deliver": {"to": "link"}},
            )
            assert twice.status_code == 409 and _code(twice) == "source.duplicate"
            assert (await store.get_job(hers)).account is not None

            listed = (await ann.get(f"{API}/jobs")).json()["jobs"]
            assert [j["id"] for j in listed] == [hers]
            listed = (await bob.get(f"{API}/jobs")).json()["jobs"]
            assert [j["id"] for j in listed] == [his]
            both = (await root.get(f"{API}/jobs")).json()["jobs"]
            assert sorted(j["id"] for j in both) == sorted([hers, his])

            # The events: a person's poll carries their jobs only; an administrator's both.
            theirs = (await ann.get(f"{API}/events/poll", params={"after": 0})).json()
            assert hers in _ids(theirs) and his not in _ids(theirs)
            asked = (await bob.get(f"{API}/events/poll", params={"jobs": str(hers)})).json()
            assert hers not in _ids(asked)
            everyone = (await root.get(f"{API}/events/poll", params={"after": 0})).json()
            assert {hers, his} <= _ids(everyone)

            # The page as served (before its script asks anything): one's own jobs only.
            assert f'data-job="{hers}"' not in (await bob.get("/")).text
            assert f'data-job="{his}"' in (await bob.get("/")).text
            assert f'data-job="{hers}"' in (await root.get("/")).text

            # Each of the other's, by its number (a guessed id): as if it did not exist.
            tries = [
                bob.get(f"{API}/jobs/{hers}"),
                bob.post(f"{API}/jobs/{hers}/cancel"),
                bob.post(f"{API}/jobs/{hers}/retry"),
                bob.post(f"{API}/jobs/{hers}/password", json={"password": "x"}),
                bob.get(f"{API}/jobs/{hers}/files"),
                bob.post(f"{API}/jobs/{hers}/links"),
                bob.get(f"{API}/jobs/{hers}/library"),
                bob.delete(f"{API}/jobs/{hers}"),
            ]
            for attempt in tries:
                answer = await attempt
                assert answer.status_code == 404, answer.text
                assert _code(answer) == "job.not_found"
            bulk = (
                await bob.post(f"{API}/jobs/bulk", json={"action": "cancel", "ids": [hers, his]})
            ).json()
            assert bulk["done"] == [his]
            assert [r["id"] for r in bulk["refused"]] == [hers]
            assert (await store.get_job(hers)).state.value == "queued"  # untouched
            cleared = (await bob.post(f"{API}/jobs/clear")).json()["removed"]
            assert cleared == [his]
            assert (await store.get_job(hers)).state.value == "queued"

            # Watches: another's is not listed, and is "not found" by its number.
            watch = await ann.post(
                f"{API}/watches", json={"source": str(folder), "to": "library:", "kind": "folder"}
            )
            assert watch.status_code == 201, watch.text
            watch_id = watch.json()["id"]
            assert (await bob.get(f"{API}/watches")).json()["watches"] == []
            assert [w["id"] for w in (await ann.get(f"{API}/watches")).json()["watches"]] == [
                watch_id
            ]
            assert [w["id"] for w in (await root.get(f"{API}/watches")).json()["watches"]] == [
                watch_id
            ]
            for verb in ("check", "pause", "resume"):
                answer = await bob.post(f"{API}/watches/{watch_id}/{verb}")
                assert answer.status_code == 404 and _code(answer) == "watch.not_found"
            answer = await bob.delete(f"{API}/watches/{watch_id}")
            assert answer.status_code == 404 and _code(answer) == "watch.not_found"
            assert (await store.watch_accounts())[watch_id] == (await store.user_named("ann")).id  # type: ignore[union-attr]

            # What only administrators see.
            for path in (f"{API}/users", f"{API}/audit", "/metrics", f"{API}/telegram/accounts"):
                answer = await bob.get(path)
                assert answer.status_code == 403, (path, answer.text)
                assert _code(answer) == "account.forbidden"
            # The cookies.txt a person sees is their own (none yet), never the server's.
            (settings.data_dir / "cookies").mkdir()
            (settings.data_dir / "cookies" / "cookies.txt").write_text(
                "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tserver\n"
            )
            assert (await root.get(f"{API}/cookies")).json()["kept"] is True
            assert (await bob.get(f"{API}/cookies")).json()["kept"] is False
            metrics = (await root.get("/metrics")).text
            assert 'ferryman_account_jobs{account="ann",state="busy"} 1' in metrics
            assert 'ferryman_account_jobs{account="bob",state="busy"} 0' in metrics
            assert "ferryman_accounts 3" in metrics
            audit = (await root.get(f"{API}/audit")).json()["audit"]
            actions = {(r["actor"], r["action"], r["address"]) for r in audit}
            assert ("ann", "sign_in", "10.1.2.3") in actions
            assert ("ann", "sign_in.refused", "10.1.2.3") in actions
    finally:
        await store.close()


async def test_own_tokens_limits_and_the_administrators_view(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()  # the web's doors, not the database's
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as ann, _client(served) as root:
            await _signed_in(ann, "ann")
            await _signed_in(root, "root")
            made = (await ann.post(f"{API}/me/tokens", json={"label": "phone"})).json()
            token = made["token"]
            listed = (await ann.get(f"{API}/me")).json()["tokens"]
            assert [t["label"] for t in listed] == ["phone"]
            assert all("token" not in t for t in listed)  # shown once, never again
            async with _client(served) as script:
                script.headers["authorization"] = f"Bearer {token}"
                mine = await _job(script, "https://example.com/script.zip")
                assert (await store.get_job(mine)).account == (await store.user_named("ann")).id  # type: ignore[union-attr]
                assert (await ann.delete(f"{API}/me/tokens/{made['id']}")).status_code == 204
                gone = await script.get(f"{API}/jobs")
                assert gone.status_code == 401 and _code(gone) == "auth.required"

            limited = await root.put(f"{API}/users/ann/settings", json={"limits": {"jobs": 1}})
            assert limited.status_code == 200, limited.text
            over = await ann.post(
                f"{API}/jobs",
                json={"source": "https://example.com/two.zip", "deliver": {"to": "link"}},
            )
            assert over.status_code == 429, over.text
            assert _code(over) == "account.limit_jobs"
            assert over.json()["error"]["next"]
            own = await ann.put(f"{API}/me/settings", json={"limits": {"jobs": 100}})
            assert own.status_code == 403 and _code(own) == "account.forbidden"
            bad = await ann.put(f"{API}/me/settings", json={"quality": "999p"})
            assert bad.status_code == 422 and _code(bad) == "request.invalid"
            chosen = await ann.put(f"{API}/me/settings", json={"dest": "library", "audio": "opus"})
            assert chosen.status_code == 200, chosen.text
            await root.put(f"{API}/users/ann/settings", json={"limits": {"jobs": 0}})
            plain = await ann.post(f"{API}/jobs", json={"source": "https://example.com/d.zip"})
            assert plain.status_code == 202, plain.text
            job = await store.get_job(plain.json()["id"])
            assert job.dest.startswith("library:") and "opus" in job.source, job
            told = await ann.post(
                f"{API}/jobs",
                json={"source": "https://example.com/e.zip", "deliver": {"to": "link"}},
            )
            assert (await store.get_job(told.json()["id"])).dest.startswith("link:")

            added = await root.post(
                f"{API}/users", json={"name": "cid", "password": "long enough", "admin": False}
            )
            assert added.status_code == 201, added.text
            users = (await root.get(f"{API}/users")).json()["users"]
            assert [u["name"] for u in users] == ["root", "ann", "bob", "cid"]
            assert (await root.delete(f"{API}/users/cid")).status_code == 204
            audit = (await root.get(f"{API}/audit")).json()["audit"]
            assert [r["action"] for r in audit][:3] == ["user.remove", "user.add", "user.settings"]
    finally:
        await store.close()


async def test_a_reset_password_ends_the_sessions_made_with_the_old(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()  # the web's doors, not the database's
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as ann, _client(served) as root:
            await _signed_in(ann, "ann")
            await _signed_in(root, "root")
            assert (await ann.get(f"{API}/jobs")).status_code == 200
            reset = await root.post(f"{API}/users/ann/password", json={"password": "a new one!"})
            assert reset.status_code == 204, reset.text
            ended = await ann.get(f"{API}/jobs")
            assert ended.status_code == 401 and _code(ended) == "auth.required"
    finally:
        await store.close()


async def test_without_accounts_the_loopback_page_is_open_as_before(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()  # the web's doors, not the database's
    try:
        async with _app(settings, store) as served, _client(served) as anyone:
            job = await _job(anyone, "https://example.com/open.zip")
            assert [j["id"] for j in (await anyone.get(f"{API}/jobs")).json()["jobs"]] == [job]
            assert (await store.get_job(job)).account is None
    finally:
        await store.close()
