"""The memory store's chat records (``store/memory``): what ``store/chat/sql``
does in SQL, on dicts: a file received and its job written together (the same file not
taken twice), each job's status message, a chat user's settings, and a chosen job's
hold after its fetch (``store/fetches``' ``hold_asked``, ``hold_ended``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.model import AlbumState, Job, JobState
from ferryman.store.chat.sql import DONE, DOWNLOADING, DUPLICATE, FAILED, InboxRow, StatusRow
from ferryman.store.fetches.sql import DONE as FETCHED
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.memory.base import Row, Writer
from ferryman.store.notices.memory import MemoryNotices

_FIELDS = [f.name for f in dataclasses.fields(InboxRow)]


def _inbox(row: Row) -> InboxRow:
    return InboxRow(**{name: row[name] for name in _FIELDS})


class MemoryChat(MemoryNotices):
    """The chat's inbox rows (a table), status rows (per job) and users' settings."""

    def _inbox_rows(self) -> list[Row]:
        return [row for _, row in sorted(self.tables["tg_inbox"].items())]

    def _new_job(self, job: dict[str, Any], memos: dict[str, str] | None = None) -> Job:
        args = dict(job)
        fetch = bool(args.pop("fetch"))
        return insert_job(
            Writer(self), NewJob(**args, fetch=fetch, memos=memos or {}), self.clock()
        )

    async def inbox_add(
        self,
        *,
        chat_id: int,
        message_id: int,
        sender_id: int,
        file_key: str,
        name: str,
        size: int,
        force: bool,
        job: dict[str, Any],
        memos: dict[str, str] | None = None,
    ) -> tuple[InboxRow, InboxRow | None, Job | None] | None:
        rows = self._inbox_rows()
        if any((r["chat_id"], r["message_id"]) == (chat_id, message_id) for r in rows):
            return None  # the same message seen again
        earlier = None
        if not force:
            cancelled = JobState.CANCELLED.value
            earlier = next(
                (
                    r
                    for r in rows
                    if r["file_key"] == file_key
                    and r["state"] in (DOWNLOADING, DONE)
                    and (r["job_id"] is None or self.job_row(r["job_id"])["state"] != cancelled)
                ),
                None,
            )
        made = None
        if earlier is None:
            try:
                made = self._new_job(job, memos)
            except FerrymanError as exc:
                if exc.code != "source.duplicate":
                    raise
                return None  # its job's dedupe key (the message) is taken: seen again
        now = self.clock()
        row_id = self.insert("tg_inbox", {
            "chat_id": chat_id, "message_id": message_id, "sender_id": sender_id,
            "file_key": file_key, "name": name, "size": size,
            "state": DUPLICATE if earlier is not None else DONE,
            "job_id": earlier["job_id"] if earlier is not None else made and made.id,
            "dest": job["dest"], "created_at": now, "updated_at": now})  # fmt: skip
        row = _inbox(self.tables["tg_inbox"][row_id])
        return row, None if earlier is None else _inbox(earlier), made

    async def inbox_job(self, row_id: int, job: dict[str, Any]) -> Job:
        made = self._new_job(job)
        self.tables["tg_inbox"][row_id] |= {"state": DONE, "job_id": made.id,
                                            "updated_at": self.clock()}  # fmt: skip
        return made

    async def inbox_note(
        self, *, chat_id: int, message_id: int, sender_id: int, state: str, code: str | None
    ) -> None:
        if any((r["chat_id"], r["message_id"]) == (chat_id, message_id)
               for r in self._inbox_rows()):  # fmt: skip
            return
        now = self.clock()
        self.insert("tg_inbox", {"chat_id": chat_id, "message_id": message_id,
                                 "sender_id": sender_id, "state": state, "error_code": code,
                                 "created_at": now, "updated_at": now})  # fmt: skip

    async def inbox_rows(self, states: list[str] | None = None) -> list[InboxRow]:
        return [_inbox(r) for r in self._inbox_rows() if states is None or r["state"] in states]

    async def inbox_of_job(self, job_id: int) -> InboxRow | None:
        rows = self._inbox_rows()
        return next((_inbox(r) for r in rows if r["job_id"] == job_id and r["state"] == DONE),
                    None)  # fmt: skip

    async def inbox_failed(self, row_id: int, code: str, *, let_go: bool = False) -> None:
        cleared = {"job_id": None} if let_go else {}
        self._inbox_set(row_id, state=FAILED, error_code=code, **cleared)

    async def inbox_forget_path(self, row_id: int) -> None:
        self._inbox_set(row_id, path=None)

    def _inbox_set(self, row_id: int, **values: Any) -> None:
        row = self.tables["tg_inbox"].get(row_id)
        if row is not None:
            row |= {**values, "updated_at": self.clock()}

    async def status_rows(self) -> list[StatusRow]:
        return [row for _, row in sorted(self.statuses.items())]

    async def status_get(self, job_id: int) -> StatusRow | None:
        return self.statuses.get(job_id)

    async def status_put(self, row: StatusRow) -> None:
        self.statuses[row.job_id] = row

    async def user_settings(self, user_id: int) -> dict[str, str]:
        return {key: value for (user, key), value in self.chat_settings.items() if user == user_id}

    async def user_setting_put(self, user_id: int, key: str, value: str | None) -> None:
        self.chat_settings.pop((user_id, key), None)
        if value is not None:
            self.chat_settings[user_id, key] = value

    async def album_tally(self, job_id: int) -> tuple[int, int]:
        found = self.albums_of(job_id)
        return sum(a["state"] == AlbumState.DELIVERED.value for a in found), len(found)

    async def hold_asked(self, job_id: int, hold: str, asked: bool) -> bool:
        fetch = self.fetch_of(job_id)
        if fetch is None or fetch["state"] == FETCHED:
            return False
        self.memos.pop((job_id, hold), None)
        if asked:
            self.memos[job_id, hold] = ""
        return True

    async def hold_ended(self, job_id: int, hold: str, memos: dict[str, str]) -> None:
        self.memos.pop((job_id, hold), None)
        for key, value in memos.items():
            self.memos[job_id, key] = value
        job = self.tables["jobs"].get(job_id)
        if job is not None and job["wait_reason"] == hold:
            job |= {"paused": False, "wait_reason": None, "updated_at": self.clock()}
