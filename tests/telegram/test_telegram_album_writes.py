"""What an album of photos costs the store on its way to Telegram: a few transactions
and reads for the whole album, not some for each file.

Each file's media reference was once kept in a commit of its own and read back with a
statement of its own (ten commits and ten reads an album, 5-300 ms each when the
machine is loaded), and an album prepared ahead was planned again in its turn. Counted
here through the whole engine on the sink's own ``SinkState``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.store import Store
from tests.telegram.test_telegram_sink import World, photos

ALBUMS = 3


class Counted:
    """A ``SinkState`` that counts its calls by name (writes: ``claim``, ``put``)."""

    def __init__(self, state: Any, calls: Counter[str]) -> None:
        self._state = state
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._state, name)
        if name not in ("records", "claim", "put", "wait_until", "set_wait"):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls[name] += 1
            return found(*args, **kwargs)

        return call


async def test_an_album_of_ten_photos_is_kept_in_two_transactions_and_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await World.logged_in(tmp_path)
    folder = tmp_path / "in"
    photos(folder, 10 * ALBUMS)
    calls: Counter[str] = Counter()
    plain = Store.sink_state

    def counted(self: Store, sink: str) -> Any:
        state = plain(self, sink)
        return Counted(state, calls) if sink == "telegram" else state

    monkeypatch.setattr(Store, "sink_state", counted)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    assert [len(a) for a in w.server.albums(w.me)] == [10] * ALBUMS
    # Per album: its sends planned (one claim), its ten references kept (one put); the
    # messages Telegram made are recorded in the album's record of delivery (the engine's
    # transaction: ``Delivered.keep``), not in a put of their own (one till 2026-11-29).
    # Before: a put per reference, and the plan claimed again at each of the album's
    # three looks at it.
    assert calls["claim"] == ALBUMS, calls
    # The job's end edits the captions noted "1/3+" and forgets the notes: one put.
    reopened = [a for a in w.server.albums(w.me) if a[0].history]
    assert calls["put"] == ALBUMS + (1 if reopened else 0), calls
    # ... and every message is recorded sent, with the id Telegram gave it.
    state = store.sink_state("telegram")
    sends = [r.value for r in await state.records(job.id) if r.key.startswith("send:")]
    posted = sorted(m.id for album in w.server.albums(w.me) for m in album)
    assert {v["state"] for v in sends} == {"sent"}
    assert sorted(v["message_id"] for v in sends) == posted
    # Read: once prepared (its sends and references together) and once in its turn; its
    # sends, once sent, are known as recorded, not read back (they were, till 2026-11-27).
    # Before: a read per file at each look, 30 or more an album. And once at the job's
    # end: its captions noted to make final ("1/3+").
    assert calls["records"] <= 2 * ALBUMS + 1, calls
    # Waits read: the account's and its chat's in one read at each of an album's two
    # passes, once the account has looked the chat up (two reads in a row till
    # 2026-11-29); the first album's chat is looked up first, and the warm-up reads one.
    assert calls["wait_until"] <= 2 * ALBUMS + 2, calls
    await store.close()


async def test_a_costly_upload_is_kept_at_once_not_with_its_album(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that took long (here: every one, the bar set to 0 s) has its reference
    kept as soon as it is made, while the album's other files still upload: a crash or
    a lost lease then never costs that upload again. Kept with the album's others, it
    waited for the last of them (and was lost to a SIGKILL or a cancel before that)."""
    import asyncio

    from ferryman.sinks import telegram as telegram_sink
    from ferryman.telegram.upload import Uploader

    monkeypatch.setattr(telegram_sink, "KEEP_AT_ONCE_AFTER", 0.0)
    plain = Uploader.upload
    started: list[Path] = []
    hold = asyncio.Event()  # never set: every upload after the first hangs

    async def upload(self: Uploader, path: Path, **kwargs: Any) -> Any:
        started.append(path)
        if len(started) > 1:
            await hold.wait()
        return await plain(self, path, **kwargs)

    monkeypatch.setattr(Uploader, "upload", upload)
    w = await World.logged_in(tmp_path)
    folder = tmp_path / "in"
    photos(folder, 3)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    engine = w.engine(store)
    task = asyncio.create_task(engine.run())
    state = store.sink_state("telegram")

    async def kept() -> list[str]:
        return [r.key for r in await state.records(job.id) if r.key.startswith("media:")]

    from tests.support.waiting import eventually

    try:
        found = await eventually(kept, "the first upload's reference kept", within=30)
        assert len(found) == 1, found  # the others still upload
        assert len(started) >= 2  # ...and were started beside it
        assert w.server.albums(w.me) == []  # nothing was sent meanwhile
    finally:
        hold.set()  # the held uploads go on, so the engine stops at once
        engine.stop()
        await asyncio.wait_for(task, 30)
        await store.close()


def test_slow_uploads_that_end_together_are_kept_in_one_transaction_not_one_each() -> None:
    """Ten photos sharing a capped account (10 Mbit/s) each take about 2 s and end
    together: each was kept at once, ten transactions an album (2026-11-29). The first
    is kept at once, those after it wait for the album's end, or for the next keep once
    2 s have passed (taken along with it); one that took 8 s or more is kept at once."""
    from ferryman.sinks.telegram import KEEP_AT_ONCE_AFTER as after
    from ferryman.sinks.telegram_state import Fresh

    fresh = Fresh(0.0)  # the album began at 0 s
    ends = [after + i / 50 for i in range(10)]
    assert [fresh.at_once(end, end, after) for end in ends] == [True] + [False] * 9
    assert not fresh.at_once(after - 0.1, 3 * after, after)  # quick: with the album's others
    assert fresh.at_once(after, ends[0] + after, after)  # 2 s after the last keep
    assert fresh.at_once(4 * after, ends[0] + after + 0.1, after)  # big: whatever the last
    assert not fresh.at_once(after, ends[0] + after + 0.2, after)
