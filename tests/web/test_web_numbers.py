"""Numbers through the API, on a real SQLite store (the memory store never overflows nor
gives a number again): a number out of range in any path is ``request.invalid`` (422),
never a server error; a watch removed leaves its number to nobody."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.store import Store
from tests.web.test_web_accounts import API, _app, _client, _code, _people, _signed_in


async def test_a_number_out_of_range_is_refused_with_a_code(
    tmp_path: Path, settings: Settings
) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as client:
            await _signed_in(client, "ann")
            for number in ("99999999999999999999", "9223372036854775808", "-1", "0", "x"):
                for method, path in (
                    ("DELETE", f"/me/tokens/{number}"),
                    ("GET", f"/jobs/{number}"),
                    ("POST", f"/watches/{number}/pause"),
                ):
                    answer = await client.request(method, API + path)
                    assert answer.status_code == 422, (path, answer.text)
                    assert _code(answer) == "request.invalid", (path, answer.text)
            gone = await client.delete(f"{API}/me/tokens/5")
            assert gone.status_code == 404 and _code(gone) == "account.token_not_found"
    finally:
        await store.close()


async def test_a_removed_watchs_number_is_given_to_nobody_else(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    watching = settings.watch.model_copy(update={"folders": [str(folder)]})
    settings = settings.model_copy(update={"watch": watching})
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await _people(store)
    watch = {"source": str(folder), "to": "link:", "kind": "folder"}
    try:
        async with _app(settings, store) as served:
            async with _client(served) as ann:
                await _signed_in(ann, "ann")
                added = await ann.post(f"{API}/watches", json=watch)
                assert added.status_code == 201, added.text
                hers = added.json()["id"]
                assert (await ann.delete(f"{API}/watches/{hers}")).status_code == 200
            async with _client(served) as bob:
                await _signed_in(bob, "bob")
                added = await bob.post(f"{API}/watches", json=watch)
                assert added.status_code == 201, added.text
                assert added.json()["id"] > hers
    finally:
        await store.close()
