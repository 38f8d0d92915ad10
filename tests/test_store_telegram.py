"""Telegram delivery state on both stores: random_ids chosen once, waits kept, refs swapped."""

from __future__ import annotations

from ferryman.store import Store
from ferryman.store.telegram import MediaRef

from .test_store import _expanded_job


async def test_random_ids_are_chosen_once_and_survive_a_repeat(store: Store) -> None:
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("deliverer", 30)
    assert album is not None and album.job_id == job_id
    slots = [(it.id, 0) for it in album.items]
    first = await store.tg_plan_sends(album.id, slots)
    again = await store.tg_plan_sends(album.id, slots)
    assert [p.random_id for p in first] == [p.random_id for p in again]
    assert len({p.random_id for p in first}) == 3 and all(p.random_id for p in first)
    assert {p.state for p in first} == {"pending"}

    # A 64-bit random_id (sign included) round-trips exactly.
    await store.tg_sent(album.id, {0: 2**40 + 1}, "42")
    await store.tg_drop(album.id, 2, album.items[2].id, 0)
    rows = await store.tg_sends(album.id)
    assert [r.state for r in rows] == ["sent", "pending", "dropped"]
    assert rows[0].message_id == 2**40 + 1
    assert await store.tg_messages(album.items[0].id) == [2**40 + 1]


async def test_waits_and_media_references(store: Store) -> None:
    job_id = await _expanded_job(store, 1)
    items = await store.job_items(job_id)
    assert await store.tg_wait_until(["account"]) == 0.0
    await store.tg_wait_set("account", 1000.5, "telegram.flood_wait")
    await store.tg_wait_set("peer:7", 2000.0, "telegram.slowmode_wait")
    await store.tg_wait_set("account", 1500.0, "telegram.flood_wait")  # replaced, not added
    assert await store.tg_wait_until(["account"]) == 1500.0
    assert await store.tg_wait_until(["account", "peer:7"]) == 2000.0

    await store.tg_media_put(items[0].id, 0, MediaRef("AAAA", "visual"))
    await store.tg_media_put(items[0].id, 0, MediaRef("BBBB", "document"))
    assert await store.tg_media(items[0].id) == {0: MediaRef("BBBB", "document")}
    await store.tg_media_forget(items[0].id, 0)
    assert await store.tg_media(items[0].id) == {}
