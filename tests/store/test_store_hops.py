"""The per-job writes of a link's photo on SQLite, counted in hops to the connection's
thread: each hop of a write transaction holds SQLite's one writer connection while the
event loop comes back to send the next statement, so 200 links queued behind it
(bench/results/telegram.md, issue 49 item 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.store import Store
from ferryman.store.fetches.sql import InputName


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


async def test_jobs_end_in_one_hop_of_the_writer(tmp_path: Path, hops: list[int]) -> None:
    """The housekeeper's ``finish_jobs`` of three finished jobs: one hop for its look on
    the reader and one for the write that ends them all (22 before: each job's outcome,
    summary and event six hops, the writer's connection held throughout), no statement
    through SQLAlchemy's execution; ended once, each with its summary and its event."""
    from sqlalchemy.engine import Connection

    from ferryman.model import ItemState, JobState, MediaKind
    from ferryman.store.shared.rows import NewItem

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        made = []
        for n in range(3):
            job = await store.add_job(source=f"/n{n}.zip", name=f"n{n}", dest="library:")
            assert await store.claim_job("r", 30) is not None
            text = NewItem(seq=0, source_path="a.txt", kind=MediaKind.OTHER,
                           state=ItemState.SKIPPED, reason="not media")  # fmt: skip
            await store.record_entries(job.id, "r", 1, [text])
            await store.finish_expansion(job.id, "r", album_size=10)
            made.append(job.id)
        await store.get_job(made[0])  # the reader's connection opened (its pragmas)
        hops[0] = 0
        executed: list[str] = []
        execute = Connection.execute

        def counted(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
            executed.append(str(statement).split()[0])
            return execute(self, statement, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Connection, "execute", counted)
            assert sorted(await store.finish_jobs()) == made
        assert hops[0] == 2  # the look on the reader, the write
        assert executed == []  # each end built once, run through sql/sqlite_direct
        assert await store.finish_jobs() == []
        for job_id in made:
            ended = await store.get_job(job_id)
            assert (ended.state, ended.error_code) == (JobState.DONE, "source.nothing_delivered")
            assert (
                ended.summary is not None
                and ended.summary["total"] == 1
                and ended.summary["skipped"]
            )
        events = await store.notice_events()
        assert sorted(e.job_id for e in events if e.kind == "job_ended") == made
    finally:
        await store.close()


async def test_albums_are_sealed_in_one_hop(tmp_path: Path, hops: list[int]) -> None:
    """``seal_albums`` (the housekeeper's, a conversion's): begun, sealed and committed
    in one hop (two before: the commit apart)."""
    from ferryman.model import ItemState, MediaKind, Plan
    from ferryman.store.shared.rows import NewItem

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        job = await store.add_job(source="/a.zip", name="a", dest="library:")
        assert await store.claim_job("r", 30) is not None
        photos = [
            NewItem(seq=s, source_path=f"p{s}.jpg", kind=MediaKind.PHOTO,
                    state=ItemState.READY, size=10, plan=Plan.AS_IS)
            for s in range(3)
        ]  # fmt: skip
        await store.record_entries(job.id, "r", 3, photos, album_size=10)
        await store.finish_expansion(job.id, "r", album_size=10)
        hops[0] = 0
        sealed = await store.seal_albums(job.id, 10)
        assert hops[0] == 1
        assert len(sealed) <= 1
        album = await store.claim_album("d", 30)
        assert album is not None and [i.seq for i in album.items] == [0, 1, 2]
    finally:
        await store.close()


async def test_claims_take_one_hop_each(tmp_path: Path, hops: list[int]) -> None:
    """A claim of one row or of several (``claim_fetch``, ``claim_fetches``,
    ``claim_job``, ``claim_jobs``): begun, run and committed on SQLite's thread in one
    hop (two before: the statement, then the commit, the one writer held between them);
    the same rows claimed, in the same order, with their leases."""
    from ferryman.model import JobState

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        links = [
            (await store.add_job(source=f"tg:c/1/{n}", name=f"c{n}", dest="library:", fetch=True))
            for n in range(3)
        ]
        local = [
            (await store.add_job(source=f"/n{n}.zip", name=f"n{n}", dest="library:")).id
            for n in range(3)
        ]
        await store.get_job(local[0])  # the reader's connection opened (its pragmas)
        hops[0] = 0
        fetch = await store.claim_fetch("f", 30)
        assert hops[0] == 1
        assert fetch is not None and fetch.job_id == links[0].id
        hops[0] = 0
        more = await store.claim_fetches("f", 30, 5)
        assert hops[0] == 1
        assert [f.job_id for f in more] == [links[1].id, links[2].id]
        hops[0] = 0
        job = await store.claim_job("r", 30)
        assert hops[0] == 1
        assert job is not None and job.id == local[0] and not job.resumed
        hops[0] = 0
        jobs = await store.claim_jobs("r", 30, 5)
        assert hops[0] == 1
        assert [j.id for j in jobs] == local[1:]
        for claimed in (job, *jobs):  # read as SQLAlchemy reads them: every column alike
            assert claimed.state is JobState.READING and claimed.started_at is not None
            assert await store.get_job(claimed.id) == claimed
        for got in (fetch, *more):
            assert got.state == "fetching" and await store.fetched(got.job_id) == got
        assert await store.claim_job("r", 30) is None
    finally:
        await store.close()


async def test_active_jobs_say_which_have_items_to_seal(tmp_path: Path, hops: list[int]) -> None:
    """``active_jobs`` (the housekeeper's full round, on the reader, one hop): the live
    jobs, each with whether it has ready items; the round seals only those (it took a
    write transaction on the one writer for every live job, ~200 in a links row of 200
    photos, for nothing the stages had not sealed). Queued and ended jobs are not live."""
    from ferryman.model import ItemState, MediaKind, Plan
    from ferryman.store.shared.rows import NewItem

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        made = [
            (await store.add_job(source=f"/n{n}.zip", name=f"n{n}", dest="library:")).id
            for n in range(4)
        ]
        assert len(await store.claim_jobs("r", 30, 3)) == 3  # the fourth stays queued
        photo = NewItem(seq=0, source_path="p.jpg", kind=MediaKind.PHOTO,
                        state=ItemState.READY, size=10, plan=Plan.AS_IS)  # fmt: skip
        await store.record_entries(made[0], "r", 1, [photo])  # ready, not sealed
        await store.record_entries(made[1], "r", 1, [photo], album_size=1)  # sealed
        await store.get_job(made[0])  # the reader's connection opened (its pragmas)
        hops[0] = 0
        assert await store.active_jobs() == {made[0]: True, made[1]: False, made[2]: False}
        assert hops[0] <= 2  # the read; its end, at most
        assert await store.seal_albums(made[0], 10) == []  # one item, still being read
        await store.finish_expansion(made[0], "r", album_size=10)
        assert (await store.active_jobs())[made[0]] is False  # sealed as its read ended
    finally:
        await store.close()


async def test_a_job_s_reads_take_one_hop_each(
    tmp_path: Path, hops: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads a link's job makes (its job, fetch, memos, items, albums, notice targets,
    a name's neighbours, the event outbox): each begun, read and ended on the reader's
    thread in one hop (two before: the read, then its ROLLBACK as the pool took the
    connection back); what they read as before. Each is built once and run through
    ``sql/sqlite_direct`` (``StoreBase._read``, the one way a read goes), not SQLAlchemy's
    execution (~150 µs a statement)."""
    from sqlalchemy.engine import Connection

    executed: list[str] = []
    execute = Connection.execute

    def counted(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(str(statement).split("FROM")[-1].split()[0])
        return execute(self, statement, *args, **kwargs)

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        job = await store.add_job(source="tg:c/1/2", name="c1-2", dest="library:", fetch=True)
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None
        await store.fetch_done(fetch.id, "f", "/w/photo.jpg", 5, note=("fetch.note", "kept"))
        await store.get_job(job.id)  # the reader's connection opened (its pragmas)
        monkeypatch.setattr(Connection, "execute", counted)
        reads = [
            (store.get_job(job.id), lambda got: got.id == job.id and got.name == "c1-2"),
            (store.fetched(job.id), lambda got: got.path == "/w/photo.jpg" and got.size == 5),
            (store.source_memos(job.id), lambda got: got == {"fetch.note": "kept"}),
            (store.known_seqs(job.id), lambda got: got == set()),
            (store.album_count(job.id), lambda got: got == 0),
            (store.job_notify(job.id), lambda got: got is None),
            (store.unique_name("c1-2", "library:"), lambda got: got != "c1-2"),
            (store.notice_events(), lambda got: isinstance(got, list)),
        ]
        for read, check in reads:
            hops[0] = 0
            got = await read
            assert hops[0] == 1, read
            assert check(got), got
        assert executed == []  # none through SQLAlchemy's execution, the outbox's look too
    finally:
        await store.close()


async def test_a_read_s_last_entries_go_through_no_sqlalchemy_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``record_entries(last=True)`` of a photo (a link's read, whole): its statements all
    run through ``sql/sqlite_direct`` (the read's end was built and run through SQLAlchemy at
    every job, a third of the hop's time); the job ends its read as before."""
    from sqlalchemy.engine import Connection

    from ferryman.model import ItemState, JobState, MediaKind, Plan
    from ferryman.store.shared.rows import NewItem

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        job = await store.add_job(source="/a.jpg", name="a", dest="library:")
        assert await store.claim_job("r", 30) is not None
        executed: list[str] = []
        execute = Connection.execute

        def counted(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
            executed.append(str(statement).split()[0])
            return execute(self, statement, *args, **kwargs)

        monkeypatch.setattr(Connection, "execute", counted)
        photo = NewItem(seq=0, source_path="a.jpg", kind=MediaKind.PHOTO,
                        state=ItemState.READY, size=10, plan=Plan.AS_IS)  # fmt: skip
        batch = await store.record_entries(job.id, "r", 1, [photo], album_size=10, last=True)
        assert executed == []
        assert len(batch.sealed) == 1
        monkeypatch.undo()
        ended = await store.get_job(job.id)
        assert ended.state is JobState.ACTIVE and ended.read_done and ended.cursor == 1
    finally:
        await store.close()


async def test_the_housekeeper_s_and_notifier_s_rounds_take_one_hop_each(
    tmp_path: Path, hops: list[int]
) -> None:
    """What the housekeeper asks after a job's end (``idle``, ``watches_idle``) and the
    notifier's ``drop_events`` of events with no target: one hop each (two before: the
    read and its ROLLBACK; the delete and its commit); answered as before."""
    from ferryman.model import ItemState, MediaKind
    from ferryman.store.shared.rows import NewItem

    store = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        job = await store.add_job(source="/n.zip", name="n", dest="library:")
        await store.get_job(job.id)  # the reader's connection opened (its pragmas)
        hops[0] = 0
        assert not await store.idle()
        assert hops[0] == 1
        hops[0] = 0
        assert await store.watches_idle()
        assert hops[0] == 1
        assert await store.claim_job("r", 30) is not None
        text = NewItem(seq=0, source_path="a.txt", kind=MediaKind.OTHER,
                       state=ItemState.SKIPPED, reason="not media")  # fmt: skip
        await store.record_entries(job.id, "r", 1, [text])
        await store.finish_expansion(job.id, "r", album_size=10)
        assert await store.finish_jobs() == [job.id]
        events = await store.notice_events()
        assert [e.job_id for e in events] == [job.id]
        hops[0] = 0
        assert await store.drop_events([e.id for e in events]) == 1
        assert hops[0] == 1
        assert await store.notice_events() == []
        assert await store.idle()
    finally:
        await store.close()
