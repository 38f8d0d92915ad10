"""Accounts in the store (schema step 16), on SQLite, PostgreSQL and the memory store
alike: people, their tokens, passkeys, chat link codes, the audit, a job's person, and
the claims' turns taken between people before jobs."""

from __future__ import annotations

import pytest

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store import Store
from tests.support.contract import db_url, store

__all__ = ["db_url", "store"]


async def test_people_are_added_found_changed_and_removed(store: Store) -> None:
    ann = await store.add_user("ann", "hash-a", admin=True)
    bob = await store.add_user("bob", None)
    assert (ann.name, ann.admin, ann.password_hash) == ("ann", True, "hash-a")
    assert [u.name for u in await store.users()] == ["ann", "bob"]
    with pytest.raises(FerrymanError) as taken:
        await store.add_user("bob", "x")
    assert taken.value.code == "account.exists"
    await store.update_user(bob.id, password_hash="hash-b", settings={"dest": "link:"})
    again = await store.user_named("bob")
    assert again is not None and again.password_hash == "hash-b"
    assert again.settings == {"dest": "link:"}
    await store.update_user(bob.id, tg_user_id=4242)
    linked = await store.user_of_telegram(4242)
    assert linked is not None and linked.id == bob.id
    with pytest.raises(FerrymanError) as twice:
        await store.update_user(ann.id, tg_user_id=4242)
    assert twice.value.code == "account.exists"
    job = await store.add_job(source="file:///a.zip", name="a", dest="library:", account=bob.id)
    assert (await store.get_job(job.id)).account == bob.id
    watch = await store.add_watch(
        kind="folder",
        source="/in",
        dest="library:",
        every_seconds=3600.0,
        since="now",
        next_check_at=0.0,
    )
    await store.set_watch_account(watch.id, bob.id)
    assert (await store.watch_accounts())[watch.id] == bob.id
    assert await store.remove_user(bob.id)
    assert await store.user(bob.id) is None
    assert (await store.get_job(job.id)).account is None  # the administrator's now
    assert (await store.watch_accounts())[watch.id] is None
    assert not await store.remove_user(bob.id)


async def test_a_persons_tokens_are_theirs_alone(store: Store) -> None:
    ann = await store.add_user("ann", "h")
    bob = await store.add_user("bob", "h")
    first = await store.add_user_token(ann.id, "sha256:aa", "phone")
    await store.add_user_token(bob.id, "sha256:bb", "laptop")
    found = await store.user_of_token("sha256:aa")
    assert found is not None and found.id == ann.id
    assert await store.user_token_id("sha256:aa") == first  # what a link is bound to
    assert await store.user_token_id("sha256:cc") is None
    assert [t["label"] for t in await store.user_token_list(ann.id)] == ["phone"]
    assert not await store.remove_user_token(bob.id, first)  # not bob's to revoke
    assert await store.remove_user_token(ann.id, first)
    assert await store.user_of_token("sha256:aa") is None
    assert await store.user_of_token("sha256:cc") is None
    assert await store.user_token_id("sha256:aa") is None


async def test_passkeys_link_codes_and_the_audit(store: Store) -> None:
    ann = await store.add_user("ann", "h")
    await store.add_passkey(ann.id, "cred-1", "key-1", 0)
    key = await store.passkey("cred-1")
    assert key is not None and (key.user_id, key.public_key, key.sign_count) == (ann.id, "key-1", 0)
    await store.passkey_used(key.id, 5)
    used = await store.passkey("cred-1")
    assert used is not None and used.sign_count == 5
    assert await store.passkey("cred-2") is None
    now = store.clock()
    await store.add_link_code(ann.id, "sha256:code", now + 600)
    assert await store.take_link_code("sha256:code") == ann.id
    assert await store.take_link_code("sha256:code") is None  # used once
    await store.add_link_code(ann.id, "sha256:old", now - 1)
    assert await store.take_link_code("sha256:old") is None  # expired
    await store.add_audit("admin", "user.add", "ann", "127.0.0.1")
    await store.add_audit("ann", "sign_in", "ann", "10.0.0.2")
    log = await store.audit_log()
    assert [(r.actor, r.action, r.address) for r in log] == [
        ("ann", "sign_in", "10.0.0.2"),
        ("admin", "user.add", "127.0.0.1"),
    ]


async def test_a_persons_usage_counts_their_jobs_only(store: Store) -> None:
    ann = await store.add_user("ann", "h")
    bob = await store.add_user("bob", "h")
    for n in range(3):
        await store.add_job(source=f"file:///a{n}", name=f"a{n}", dest="library:", account=ann.id)
    await store.add_job(source="file:///b", name="b", dest="library:", account=bob.id)
    failed = FerrymanError("source.not_found", "gone")
    await store.add_job(source="file:///c", name="c", dest="library:", account=ann.id, error=failed)
    usage = await store.account_usage(ann.id, 0.0)
    assert (usage["busy"], usage["ended"]) == (3, 1)
    counts = await store.account_counts()
    assert counts[ann.id]["busy"] == 3 and counts[bob.id]["busy"] == 1


async def test_the_next_free_slot_goes_to_the_person_running_fewest(store: Store) -> None:
    """Person A queued 200 jobs first and runs one; person B adds one job. The next
    claim (one free slot) takes B's, not A's 2nd of 200; then A's again (B runs one)."""
    a = await store.add_user("a", "h")
    b = await store.add_user("b", "h")
    theirs = [
        await store.add_job(source=f"file:///a{n}", name=f"a{n}", dest="library:", account=a.id)
        for n in range(200)
    ]
    first = await store.claim_job("w", 30)
    assert first is not None and first.id == theirs[0].id
    mine = await store.add_job(source="file:///b", name="b", dest="library:", account=b.id)
    second = await store.claim_job("w", 30)
    assert second is not None and second.id == mine.id
    third = await store.claim_job("w", 30)
    assert third is not None and third.id == theirs[1].id
    assert (await store.get_job(theirs[2].id)).state is JobState.QUEUED


async def test_the_next_download_goes_to_the_person_downloading_fewest(store: Store) -> None:
    """The fetch stage takes the same turns: A's 20 links queued first, one being
    downloaded; B's one link is the next download, then A's again."""
    a = await store.add_user("a", "h")
    b = await store.add_user("b", "h")
    theirs = [
        await store.add_job(
            source=f"https://h/a{n}", name=f"a{n}", dest="library:", fetch=True, account=a.id
        )
        for n in range(20)
    ]
    first = await store.claim_fetch("f", 30)
    assert first is not None and first.job_id == theirs[0].id
    mine = await store.add_job(
        source="https://h/b", name="b", dest="library:", fetch=True, account=b.id
    )
    second = await store.claim_fetch("f", 30)
    assert second is not None and second.job_id == mine.id
    third = await store.claim_fetch("f", 30)
    assert third is not None and third.job_id == theirs[1].id


async def test_numbers_are_never_given_again(store: Store) -> None:
    """Removing the newest person (token, session) and adding another gave SQLite's
    newcomer the removed one's number, and with it what was bound to it."""
    ann = await store.add_user("ann", "h")
    bob = await store.add_user("bob", "h")
    token = await store.add_user_token(bob.id, "sha256:bb", "t")
    session = await store.add_session("sha256:s1", bob.id, None, store.clock() + 60)
    assert await store.remove_user(bob.id)
    cid = await store.add_user("cid", "h")
    assert cid.id not in (ann.id, bob.id)
    assert await store.add_user_token(cid.id, "sha256:cc", "t") != token
    assert await store.add_session("sha256:s2", cid.id, None, store.clock() + 60) != session


async def test_sessions_are_held_and_end(store: Store) -> None:
    ann = await store.add_user("ann", "h")
    first = await store.add_session("sha256:one", ann.id, None, store.clock() + 60)
    second = await store.add_session("sha256:two", ann.id, None, store.clock() + 60)
    server = await store.add_session("sha256:srv", None, "abcd", store.clock() + 60)
    found = await store.session("sha256:one")
    assert found is not None and found.id == first and found.user is not None
    assert found.user.name == "ann"
    kept = await store.session("sha256:srv")
    assert kept is not None and kept.user is None and kept.token == "abcd"
    assert await store.session("sha256:nope") is None
    # Signing out ends that one; a password set anew ends every one of hers.
    assert await store.end_session("sha256:one")
    assert await store.session("sha256:one") is None and not await store.session_alive(first)
    assert await store.session_alive(second)
    await store.update_user(ann.id, settings={"dest": "link:"})  # not a password: kept
    assert await store.session_alive(second)
    await store.update_user(ann.id, password_hash="h2")
    assert await store.session("sha256:two") is None
    third = await store.add_session("sha256:three", ann.id, None, store.clock() + 60)
    assert await store.end_sessions(ann.id, keep=third) == 0
    assert await store.remove_user(ann.id)
    assert await store.session("sha256:three") is None
    assert await store.session_alive(server)
    # One past its end is no session, and goes when the next is made.
    late = await store.add_session("sha256:late", None, "ef", store.clock() - 1)
    assert await store.session("sha256:late") is None and not await store.session_alive(late)
