"""SIGKILL a real engine run (``tests.support.telegram_child``) past 80 % of a big
upload: the next run sends only the parts Telegram was missing, under the same file id,
and the file arrives once and whole; with the parts expired meanwhile, it starts over
and still arrives whole, never as a broken file.

The fake listens on TCP here and speaks MTProto's encryption with the child's real
Telethon client; it counts every part it received twice (``server.parts.repeats``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.remote import RemoteTelegram, serve
from faketg.server import Call
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.store import Store
from ferryman.telegram.resume import BATCH_PARTS
from tests.support.telegram_child import spawn_child
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.waiting import child_ends, eventually

PART = 512 * 1024
PARTS = 64  # 32 MiB: a big file (saveBigFilePart), quick over localhost
KILL_AT = int(PARTS * 0.8) + 1  # the part request after which the child dies
CHILD_LIMIT = 60.0
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
BIG = functions.upload.SaveBigFilePartRequest
# Every part a run sends: a piece under 10 MB (the PDF's last, 8 MiB) goes as small parts.
PARTS_SENT = (BIG, functions.upload.SaveFilePartRequest)


class World:
    dest = "telegram:@dest"  # the job's
    max_file_bytes = 0  # the child's media policy's limit (0: the destination's)

    def __init__(self, tmp: Path) -> None:
        self.now = [10_000.0]
        self.server = FakeTelegram(clock=lambda: self.now[0])
        self.me = self.server.add_user("Ann", username="ann", phone="+1555")
        self.channel = self.server.add_channel("Dest", username="dest", admins=[self.me])
        self.settings = tg_settings(tmp)
        self.tmp = tmp
        self.remote: RemoteTelegram | None = None
        self.runs = 0
        data = PDF_HEAD + os.urandom(PARTS * PART - 1000 - len(PDF_HEAD))
        self.sha256 = hashlib.sha256(data).hexdigest()
        folder = tmp / "in"
        folder.mkdir()
        (folder / "big.pdf").write_bytes(data)
        self.folder = folder

    async def start(self) -> None:
        await log_in(self.settings, self.server, self.me)
        store = await Store.open(self.settings.database)
        try:
            self.job_id = (await intake.add_source(store, self.folder, dest=self.dest)).id
        finally:
            await store.close()
        self.remote = await serve(self.server)

    async def run(self, kill_after_parts: int | None = None) -> int:
        """One child run; SIGKILLed right after the fake handled that many parts (from
        the run's start), before the last one's answer left, and once the child has
        recorded acknowledged parts: its batches are written by a task no send waits
        for, which a loaded machine held back past the 52nd part (the next run then
        had nothing to resume: a fresh upload, and no expired one). Returns the parts,
        big and small, the fake handled in this run: counting big ones alone, a resume
        that repeated few parts looked as if the last piece's small ones never went."""
        assert self.remote is not None
        self.runs += 1
        log = self.tmp / f"child-{self.runs}.log"
        proc = await spawn_child(
            self.settings.data_dir,
            self.remote.port,
            log,
            documents=True,
            max_file_bytes=self.max_file_bytes,
        )
        seen = [0]
        killed = [False]

        handled: dict[int, int] = {}  # parts handled, by upload (file id)

        async def kill_once_recorded() -> None:
            # This part's answer (and every later one's) is held until the child's record
            # is written: on a loaded CI run the record lagged past the last part, and
            # the child finished unkilled. Held only past a batch of its upload's parts
            # answered, whose write the child has begun by then (held sooner, it never
            # would: nothing more is acknowledged).
            await eventually(self._recorded, "acknowledged parts recorded by the child")
            if not killed[0]:
                killed[0] = True
                os.kill(proc.pid, signal.SIGKILL)
                self.server.drop_all()

        def hook(_call: Call, request: Any, _result: Any) -> Awaitable[None] | None:
            if isinstance(request, PARTS_SENT):
                seen[0] += 1
                handled[request.file_id] = part = handled.get(request.file_id, 0) + 1
                due = kill_after_parts is not None and seen[0] >= kill_after_parts
                if due and not killed[0] and part > BATCH_PARTS:
                    return kill_once_recorded()
            return None

        self.server.after_handle.append(hook)
        try:
            code = await child_ends(proc, CHILD_LIMIT, "the child run ended")
        finally:
            self.server.after_handle.remove(hook)
        if kill_after_parts is None:
            assert code == 0, log.read_text(errors="replace")
        else:
            assert code == -signal.SIGKILL, log.read_text(errors="replace")
        return seen[0]

    def _recorded(self) -> bool:
        """Whether the child's store holds a record of acknowledged parts (``sink_uploads``)."""
        try:
            with contextlib.closing(sqlite3.connect(self.settings.data_dir / "ferryman.db")) as db:
                return db.execute("SELECT 1 FROM sink_uploads LIMIT 1").fetchone() is not None
        except sqlite3.OperationalError:  # not made yet, or busy: the next part asks again
            return False

    async def assert_arrived_once_whole(self) -> None:
        docs = [m for m in self.server.chat(self.channel) if m.media is not None]
        assert len(docs) == 1  # each media once in the chat
        assert docs[0].media is not None and docs[0].media.file.sha256 == self.sha256
        store = await Store.open(self.settings.database)
        try:
            assert (await store.get_job(self.job_id)).state is JobState.DONE
        finally:
            await store.close()

    async def close(self) -> None:
        if self.remote is not None:
            await self.remote.close()


@pytest.mark.slow
async def test_a_big_upload_killed_past_80_percent_resumes_with_the_missing_parts(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    try:
        await w.start()
        killed = await w.run(kill_after_parts=KILL_AT)
        assert w.server.parts.repeats == 0
        w.server.parts.reset_counts()
        second = await w.run()
        await w.assert_arrived_once_whole()
        # The parts Telegram had stay there: the second run sends the rest and, at most,
        # the parts in flight at the kill plus one unwritten batch again.
        assert second < PARTS - KILL_AT + 16 + 32, second
        assert w.server.parts.repeats <= 16 + 32
        assert w.server.parts.received == second
        assert second >= PARTS - killed  # what never went, went
    finally:
        await w.close()


@pytest.mark.slow
async def test_a_resumed_upload_whose_parts_expired_starts_over_and_arrives_whole(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.server.parts.ttl = 3600.0
    try:
        await w.start()
        await w.run(kill_after_parts=KILL_AT)
        w.now[0] += 3601  # Telegram forgot the parts meanwhile
        w.server.parts.reset_counts()
        second = await w.run()
        await w.assert_arrived_once_whole()
        assert w.server.parts.expired >= 1
        assert second >= PARTS  # the missing ones under the old id, then all anew
    finally:
        await w.close()


class PieceWorld(World):
    """The same 32 MiB PDF to ``link:telegram`` under a 12 MiB limit: three pieces (12,
    12 and 8 MiB), each a window of the one staged file, each over 10 MB (resumable)."""

    dest = "link:telegram"
    max_file_bytes = 24 * PART

    def saved(self) -> list[Any]:
        return [m for m in self.server.chat(self.me) if m.media is not None]


@pytest.mark.slow
async def test_pieces_read_in_place_killed_mid_upload_resume_and_arrive_once(
    tmp_path: Path,
) -> None:
    """Killed mid-upload, the next run finds each piece under the same name (its window
    of the staged file) and the same bytes (its parts' checks): it sends the parts
    Telegram lacks, and each piece arrives once, in order, joined to the file."""
    w = PieceWorld(tmp_path)
    try:
        await w.start()
        # Mid-way through the second piece (the first is sent whole by then; a batch of
        # the second's acknowledged parts is recorded by its 16th).
        killed = await w.run(kill_after_parts=24 + 10)
        assert w.saved() == []  # killed before the album's send
        begun = {key: len(got) for key, got in w.server.parts.seen.items()}
        w.server.parts.reset_counts()
        second = await w.run()
        saved = w.saved()
        # An upload begun before the kill got its missing parts under its file id.
        assert any(len(w.server.parts.seen[key]) > n for key, n in begun.items())
        assert [m.media.file.size for m in saved] == [
            24 * PART,
            24 * PART,
            PARTS * PART - 1000 - 48 * PART,
        ]
        joined = hashlib.sha256(b"".join(bytes(m.media.file.data) for m in saved)).hexdigest()
        assert joined == w.sha256  # each piece once, in order, the file's bytes
        assert second < PARTS  # the parts Telegram held were not sent again
        assert second >= PARTS - killed
        assert w.server.parts.repeats <= 16 + 32
        store = await Store.open(w.settings.database)
        try:
            assert (await store.get_job(w.job_id)).state is JobState.DONE
        finally:
            await store.close()
        assert not list((w.settings.data_dir / "work").rglob("*.piece*"))
    finally:
        await w.close()
