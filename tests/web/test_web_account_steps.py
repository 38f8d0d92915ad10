"""Next steps that fit the state they are given in (issue 83): a person revoking a
token that is not theirs is not sent to "the administrator's view", and an ended
sign-in is not told to log in "with your token" (an account signs in by name)."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.errors import page_step
from ferryman.store.memory.store import MemoryStore
from tests.web.test_web_accounts import API, _app, _client, _code, _people, _signed_in


async def test_another_persons_token_has_a_step_of_its_own(
    tmp_path: Path, settings: Settings
) -> None:
    store = MemoryStore()
    await _people(store)
    try:
        async with _app(settings, store) as served, _client(served) as ann, _client(served) as bob:
            await _signed_in(ann, "ann")
            await _signed_in(bob, "bob")
            made = (await ann.post(f"{API}/me/tokens", json={"label": "phone"})).json()
            refused = await bob.delete(f"{API}/me/tokens/{made['id']}")
            assert refused.status_code == 404 and _code(refused) == "account.token_not_found"
            step = refused.json()["error"]["next"]
            assert "administrator" not in step and "your" in step, step
            assert (await ann.get(f"{API}/me")).json()["tokens"]  # still hers
    finally:
        await store.close()


def test_an_ended_sign_in_is_told_how_to_sign_in_again() -> None:
    said = page_step("auth.required")
    assert "with your token" not in said
    assert "name and password" in said, said
