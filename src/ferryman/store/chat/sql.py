"""The chat front door's records: files received in the chat, and each job's status message.

An inbox row is written with the file's job, in one transaction (the engine's fetch
stage downloads the file); its ``file_key`` (Telegram's file id and size) is what stops
the same file from becoming a second job. ``downloading``: a row an older ferryman left
while it downloaded the file itself (made a job at the next start). A status row
remembers which message shows a job's progress and when it was last edited, so the
edit rate holds across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Row, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.jobs.writer import SqlJobWriter
from ferryman.store.schema import jobs, tg_inbox, tg_status, tg_user_settings
from ferryman.store.sql.base import StoreBase

DOWNLOADING = "downloading"
DONE = "done"
FAILED = "failed"
DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    chat_id: int
    message_id: int
    sender_id: int
    file_key: str | None
    name: str | None
    size: int | None
    path: str | None
    state: str  # done (its job made) | failed | duplicate | downloading (an older one's)
    job_id: int | None
    dest: str | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class StatusRow:
    job_id: int
    chat_id: int
    message_id: int
    percent: int
    text: str | None
    edited_at: float


def _inbox(row: Row[Any]) -> InboxRow:
    return InboxRow(
        row.id,
        row.chat_id,
        row.message_id,
        row.sender_id,
        row.file_key,
        row.name,
        row.size,
        row.path,
        row.state,
        row.job_id,
        row.dest,
        row.error_code,
    )


def _status(row: Row[Any]) -> StatusRow:
    return StatusRow(row.job_id, row.chat_id, row.message_id, row.percent, row.text, row.edited_at)


class TelegramInboxQueries(StoreBase):
    """``tg_inbox`` and ``tg_status``: what came in through the chat and how it is shown."""

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
        """Record a received file and its job (``job``: ``add_job``'s arguments, its
        source the message) in one transaction; ``None`` if this message was recorded
        before. Unless ``force``, a file already received (its job not cancelled) is
        recorded as a duplicate, without a job, and the earlier row comes back with it."""
        now = self.clock()
        args = dict(job)
        fetch = bool(args.pop("fetch"))
        cancelled = select(jobs.c.id).where(jobs.c.state == JobState.CANCELLED.value)
        try:
            async with self._write() as conn:
                earlier = None
                if not force:
                    found = await conn.execute(
                        select(tg_inbox)
                        .where(
                            tg_inbox.c.file_key == file_key,
                            tg_inbox.c.state.in_([DOWNLOADING, DONE]),
                            or_(tg_inbox.c.job_id.is_(None), tg_inbox.c.job_id.not_in(cancelled)),
                        )
                        .order_by(tg_inbox.c.id)
                    )
                    first = found.first()
                    earlier = _inbox(first) if first is not None else None
                made = None
                if earlier is None:
                    made = await _job_in(conn, NewJob(**args, fetch=fetch, memos=memos or {}), now)
                row = (
                    await conn.execute(
                        insert(tg_inbox)
                        .values(
                            chat_id=chat_id,
                            message_id=message_id,
                            sender_id=sender_id,
                            file_key=file_key,
                            name=name,
                            size=size,
                            state=DUPLICATE if earlier is not None else DONE,
                            job_id=earlier.job_id if earlier is not None else made and made.id,
                            dest=args["dest"],
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(*tg_inbox.c)
                    )
                ).one()
        except IntegrityError:
            return None  # (chat, message) is unique: the same message seen again
        except FerrymanError as exc:
            if exc.code != "source.duplicate":
                raise
            return None  # its job's dedupe key (the message) is taken: seen again
        return _inbox(row), earlier, made

    async def inbox_job(self, row_id: int, job: dict[str, Any]) -> Job:
        """A row an older ferryman left downloading becomes a job (one transaction)."""
        args = dict(job)
        fetch = bool(args.pop("fetch"))
        now = self.clock()
        async with self._write() as conn:
            made = await _job_in(conn, NewJob(**args, fetch=fetch), now)
            await conn.execute(
                update(tg_inbox)
                .where(tg_inbox.c.id == row_id)
                .values(state=DONE, job_id=made.id, updated_at=now)
            )
        return made

    async def inbox_note(
        self, *, chat_id: int, message_id: int, sender_id: int, state: str, code: str | None
    ) -> None:
        """Record a message that is not a download (a refused destination, a link)."""
        now = self.clock()
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(tg_inbox).values(
                        chat_id=chat_id,
                        message_id=message_id,
                        sender_id=sender_id,
                        state=state,
                        error_code=code,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return

    async def inbox_rows(self, states: list[str] | None = None) -> list[InboxRow]:
        if states is None:
            rows = await self._read(_INBOX)
        else:
            rows = await self._read(_INBOX_IN, {"states": list(states)})
        return [_inbox(r) for r in rows]

    async def inbox_of_job(self, job_id: int) -> InboxRow | None:
        """The file (sent in the chat) that job ``job_id`` was made for, if one was."""
        found = await self._read(_INBOX_OF_JOB, {"job_id": job_id})
        return _inbox(found[0]) if found else None

    async def inbox_failed(self, row_id: int, code: str, *, let_go: bool = False) -> None:
        """The row ends failed; ``let_go``: no longer its job's (the job is removed)."""
        cleared = {"job_id": None} if let_go else {}
        await self._inbox_set(row_id, state=FAILED, error_code=code, **cleared)

    async def inbox_forget_path(self, row_id: int) -> None:
        """The download was deleted (``/cleanup``): the row stays, for dedupe."""
        await self._inbox_set(row_id, path=None)

    async def _inbox_set(self, row_id: int, **values: Any) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(tg_inbox)
                .where(tg_inbox.c.id == row_id)
                .values(**values, updated_at=self.clock())
            )

    # ------------------------------------------------------------ status

    async def status_rows(self) -> list[StatusRow]:
        return [_status(r) for r in await self._read(_STATUSES)]

    async def status_get(self, job_id: int) -> StatusRow | None:
        found = await self._read(_STATUS, {"job_id": job_id})
        return _status(found[0]) if found else None

    async def status_put(self, row: StatusRow) -> None:
        """Insert or replace the job's status record."""
        values = {
            "chat_id": row.chat_id,
            "message_id": row.message_id,
            "percent": row.percent,
            "text": row.text,
            "edited_at": row.edited_at,
        }
        async with self._write() as conn:
            done = await conn.execute(
                update(tg_status).where(tg_status.c.job_id == row.job_id).values(**values)
            )
            if done.rowcount == 0:
                await conn.execute(insert(tg_status).values(job_id=row.job_id, **values))

    async def user_settings(self, user_id: int) -> dict[str, str]:
        """The keys a chat user changed with ``/settings`` and their values."""
        found = await self._read(_USER_SETTINGS, {"user_id": user_id})
        return {row.key: row.value for row in found}

    async def user_setting_put(self, user_id: int, key: str, value: str | None) -> None:
        """Set one of a chat user's settings; None: back to the default."""
        mine = (tg_user_settings.c.user_id == user_id) & (tg_user_settings.c.key == key)
        async with self._write() as conn:
            await conn.execute(delete(tg_user_settings).where(mine))
            if value is not None:
                await conn.execute(
                    insert(tg_user_settings).values(
                        user_id=user_id, key=key, value=value, updated_at=self.clock()
                    )
                )


_JOB_ID = bindparam("job_id", type_=Integer)
_INBOX = select(tg_inbox).order_by(tg_inbox.c.id)
_INBOX_IN = _INBOX.where(tg_inbox.c.state.in_(bindparam("states", expanding=True)))
_INBOX_OF_JOB = (
    select(tg_inbox)
    .where(tg_inbox.c.job_id == _JOB_ID, tg_inbox.c.state == DONE)
    .order_by(tg_inbox.c.id)
    .limit(1)
)
_STATUSES = select(tg_status).order_by(tg_status.c.job_id)
_STATUS = select(tg_status).where(tg_status.c.job_id == _JOB_ID)
_USER_SETTINGS = select(tg_user_settings.c.key, tg_user_settings.c.value).where(
    tg_user_settings.c.user_id == bindparam("user_id", type_=Integer)
)


async def _job_in(conn: AsyncConnection, new: NewJob, now: float) -> Job:
    """The job (``new_job.insert_job``, the one way every store adds one) in the
    inbox row's transaction."""
    return await conn.run_sync(lambda sync: insert_job(SqlJobWriter(sync), new, now))
