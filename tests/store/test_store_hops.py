"""The per-job writes of a link's photo on SQLite, counted in hops to the connection's
thread: each hop of a write transaction holds SQLite's one writer connection while the
event loop comes back to send the next statement, so 200 links queued behind it
(bench/results/telegram.md, issue 49 item 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.store import Store, sqlite_thread
from ferryman.store.fetches import InputName


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls sent to any SQLite connection's thread."""
    count = [0]
    original = sqlite_thread.Connection._call

    def counted(self: sqlite_thread.Connection, call: Any) -> Any:
        count[0] += 1
        return original(self, call)

    monkeypatch.setattr(sqlite_thread.Connection, "_call", counted)
    return count


async def test_a_fetch_ends_named_with_its_note_in_one_hop(tmp_path: Path, hops: list[int]) -> None:
    """``fetch_done`` of a link's photo (named after its file, with the fetch's note, a
    hold asked of it): its ten statements and the commit on SQLite's thread in one hop
    (eleven before); all of it written as before."""
    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        job = await store.add_job(source="tg:c/1/2", name="c1-2", dest="library:", fetch=True)
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None
        named, note = InputName("photo"), ("fetch.note", "as asked")
        hops[0] = 0
        held = await store.fetch_done(
            fetch.id, "f", "/w/photo.jpg", 5, hold="job.choosing", named=named, note=note
        )
        assert hops[0] == 1
        assert not held
        assert (await store.get_job(job.id)).name == "photo"
        assert await store.source_memos(job.id) == {"fetch.note": "as asked"}
        found = await store.fetched(job.id)
        assert found is not None and (found.state, found.path, found.size) == (
            "done",
            "/w/photo.jpg",
            5,
        )
    finally:
        await store.close()
