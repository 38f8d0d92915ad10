"""Telegram delivery state on both stores, through the sink's own ``SinkState``:
random_ids chosen once, waits kept, refs swapped."""

from __future__ import annotations

from typing import Any

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.sinks.telegram_state import MediaRef, TelegramState
from ferryman.store import Store
from tests.store.test_store import _expanded_job


async def test_random_ids_are_chosen_once_and_survive_a_repeat(store: Store) -> None:
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("deliverer", 30)
    assert album is not None and album.job_id == job_id
    telegram = TelegramState(store.sink_state("telegram"))
    slots = [(it.id, 0) for it in album.items]
    first = await telegram.plan_sends(job_id, album.id, slots)
    again = await telegram.plan_sends(job_id, album.id, slots)
    assert [p.random_id for p in first] == [p.random_id for p in again]
    assert len({p.random_id for p in first}) == 3 and all(p.random_id for p in first)
    assert {p.state for p in first} == {"pending"}

    # A 64-bit random_id (sign included) round-trips exactly.
    await telegram.sent(first[:1], {0: 2**40 + 1}, "42")
    await telegram.drop(first[2])
    rows = await telegram.sends(job_id, album.id)
    assert [r.state for r in rows] == ["sent", "pending", "dropped"]
    assert rows[0].message_id == 2**40 + 1 and rows[0].peer == "42"
    assert [r.random_id for r in rows] == [p.random_id for p in first]
    assert await telegram.messages(job_id, album.items[0].id) == [2**40 + 1]
    assert await telegram.messages(job_id, album.items[1].id) == []


async def test_waits_and_media_references(store: Store) -> None:
    job_id = await _expanded_job(store, 1)
    items = await store.job_items(job_id)
    telegram = TelegramState(store.sink_state("telegram"))
    assert await telegram.wait_until(["account"]) == 0.0
    await telegram.wait_set("account", 1000.5, "telegram.flood_wait")
    await telegram.wait_set("peer:7", 2000.0, "telegram.slowmode_wait")
    await telegram.wait_set("account", 1500.0, "telegram.flood_wait")  # replaced, not added
    assert await telegram.wait_until(["account"]) == 1500.0
    assert await telegram.wait_until(["account", "peer:7"]) == 2000.0

    await telegram.media_put(job_id, None, {(items[0].id, 0): MediaRef("AAAA", "visual")})
    await telegram.media_put(job_id, None, {(items[0].id, 0): MediaRef("BBBB", "document")})
    assert await telegram.media(job_id, items[0].id) == {0: MediaRef("BBBB", "document")}
    await telegram.media_forget(job_id, items[0].id, 0)
    assert await telegram.media(job_id, items[0].id) == {}


async def test_a_dropped_file_loses_its_media_reference_with_the_same_write(store: Store) -> None:
    job_id = await _expanded_job(store, 2)
    album = await store.claim_album("deliverer", 30)
    assert album is not None
    telegram = TelegramState(store.sink_state("telegram"))
    plan = await telegram.plan_sends(job_id, album.id, [(it.id, 0) for it in album.items])
    await telegram.media_put(
        job_id, album.id, {(it.id, 0): MediaRef("CCCC", "visual") for it in album.items}
    )
    await telegram.drop(plan[1])
    assert await telegram.media(job_id, album.items[1].id) == {}
    assert await telegram.media(job_id, album.items[0].id) == {0: MediaRef("CCCC", "visual")}


async def test_an_album_is_read_in_one_statement_and_planned_once(store: Store) -> None:
    """Its sends and its files' references come in one read; an album planned before
    is not written again; a reference kept before they named their album is found by
    its item."""
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("deliverer", 30)
    assert album is not None
    state = store.sink_state("telegram")
    telegram = TelegramState(state)
    slots = [(it.id, 0) for it in album.items]
    first = await telegram.plan_sends(job_id, album.id, slots)
    a, b, c = (it.id for it in album.items)
    await telegram.media_put(
        job_id, album.id, {(a, 0): MediaRef("AAAA", "visual"), (b, 0): MediaRef("BBBB", "visual")}
    )
    await telegram.media_put(job_id, None, {(c, 0): MediaRef("CCCC", "document")})  # an old one
    await telegram.drop(first[1])
    calls: list[str] = []
    for name in ("records", "claim", "put"):
        original = getattr(state, name)

        def counted(*args: object, _name: str = name, _f: Any = original, **kw: object) -> Any:
            calls.append(_name)
            return _f(*args, **kw)

        setattr(state, name, counted)
    stored = await telegram.album(job_id, album.id)
    again = await telegram.plan_sends(job_id, album.id, slots, stored.sends)
    assert [s.random_id for s in again] == [s.random_id for s in first]
    assert [s.state for s in again] == ["pending", "dropped", "pending"]
    # b's reference went with its drop; c's is found by its item, in one more read.
    assert stored.media == {
        (a, 0): MediaRef("AAAA", "visual"),
        (c, 0): MediaRef("CCCC", "document"),
    }
    assert calls == ["records", "records"]


async def test_a_job_whose_album_failed_after_its_sends_were_planned_can_be_retried(
    store: Store,
) -> None:
    """``retry`` deletes the undelivered albums and items; the sends planned for them go
    with them (before the generic sink state, the old tables' foreign keys made the
    retry fail: FOREIGN KEY constraint failed)."""
    job_id = await _expanded_job(store, 2)
    album = await store.claim_album("deliverer", 30)
    assert album is not None
    telegram = TelegramState(store.sink_state("telegram"))
    await telegram.plan_sends(job_id, album.id, [(it.id, 0) for it in album.items])
    await telegram.media_put(job_id, album.id, {(album.items[0].id, 0): MediaRef("AAAA", "visual")})
    await store.album_failed(album.id, "deliverer", FerrymanError("telegram.server", "no"))
    await store.cancel(job_id)
    assert (await store.retry(job_id)).state is JobState.QUEUED
    assert await telegram.sends(job_id, album.id) == []
    assert await telegram.media(job_id, album.items[0].id) == {}
