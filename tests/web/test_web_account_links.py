"""A person's signed links through the real web app (a SQLite store, httpx over ASGI):
a link is a capability (whoever holds it, signed in as anyone or not, gets the file it
names) until its person is removed, or the token or session it was made through is
revoked; then 410 ``link.revoked`` with a next step."""

from __future__ import annotations

from pathlib import Path

import httpx

from ferryman.config import Settings
from ferryman.sinks.link import job_results
from ferryman.store import Store
from tests.web.test_web_accounts import API, _app, _client, _code, _job, _people, _signed_in


def _kept(settings: Settings, job_id: int) -> None:
    album = job_results(settings.results_dir, job_id) / "1"
    album.mkdir(parents=True)
    (album / "a.txt").write_text(f"job {job_id}")


async def _link(client: httpx.AsyncClient, job_id: int) -> str:
    answer = await client.post(f"{API}/jobs/{job_id}/links")
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["files"][0]["url"]
    assert url.startswith("/d/")
    return url


def _revoked(answer: httpx.Response) -> None:
    assert answer.status_code == 410, answer.text
    assert _code(answer) == "link.revoked" and answer.json()["error"]["next"]


async def test_a_persons_links_are_capabilities_until_revoked(
    tmp_path: Path, settings: Settings
) -> None:
    store = await Store.open(settings.database)
    await _people(store)
    try:
        async with (
            _app(settings, store) as served,
            _client(served) as ann,
            _client(served) as bob,
            _client(served) as root,
            _client(served) as script,
            _client(served) as stranger,
        ):
            for client, name in ((ann, "ann"), (bob, "bob"), (root, "root")):
                await _signed_in(client, name)
            made = (await ann.post(f"{API}/me/tokens", json={"label": "phone"})).json()
            script.headers["authorization"] = f"Bearer {made['token']}"
            hers = await _job(ann, "https://example.com/ann.zip")
            _kept(settings, hers)
            by_session = await _link(ann, hers)
            by_token = await _link(script, hers)
            by_admin = await _link(root, hers)

            # A capability: bob, signed in as himself, and a stranger get her file.
            for client in (bob, stranger, ann):
                got = await client.get(by_session)
                assert got.status_code == 200 and got.text == f"job {hers}", got.text
            # ...but bob cannot ask for links of her job.
            assert _code(await bob.post(f"{API}/jobs/{hers}/links")) == "job.not_found"

            assert (await ann.delete(f"{API}/me/tokens/{made['id']}")).status_code == 204
            _revoked(await stranger.get(by_token))
            assert (await stranger.get(by_session)).status_code == 200

            reset = await root.post(f"{API}/users/ann/password", json={"password": "a new one!"})
            assert reset.status_code == 204, reset.text
            _revoked(await stranger.get(by_session))
            assert (await stranger.get(by_admin)).status_code == 200  # bound to her only

            assert (await root.delete(f"{API}/users/ann")).status_code == 204
            _revoked(await stranger.get(by_admin))
            _revoked(await root.get(by_admin))
            # Her job is the administrator's now: a new link of it works.
            fresh = await _link(root, hers)
            assert (await stranger.get(fresh)).text == f"job {hers}"
    finally:
        await store.close()
