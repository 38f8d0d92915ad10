"""Files sent in the chat become jobs: record, download (resumably), add as a job.

Each file gets a row before anything is downloaded, and its own folder
``<data_dir>/inbox/<row id>/`` so it keeps its name (the job is named after it). A file
received before (same Telegram file id and size) is not taken again unless the caption
says ``force``. Downloads left half done by a stop or a crash go on at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.retry import backoff_seconds, should_retry
from ferryman.engine.read import chosen
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram import choose, render
from ferryman.frontdoors.telegram.caption import read_caption
from ferryman.frontdoors.telegram.status import Board, StatusBoard
from ferryman.frontdoors.telegram.user_settings import UserSettings, Who
from ferryman.model import Job
from ferryman.sinks.base import SinkRegistry
from ferryman.sources.base import SourceRegistry
from ferryman.store import Store
from ferryman.store.telegram_inbox import DOWNLOADING, DUPLICATE, FAILED, InboxRow
from ferryman.telegram.download import IN_FLIGHT, Download
from ferryman.telegram.errors import TelegramWait, from_telethon
from ferryman.telegram.pool import SenderPool
from ferryman.telegram.remote import RemoteFile, remote_file

log = logging.getLogger(__name__)

DOWNLOADS_AT_ONCE = 2  # files; each has several chunks in flight
# A file's chunks asked for at once: the engine's link downloads' figure (4 reached
# about a fifth of the link; bench telegram --download).
CHUNKS_IN_FLIGHT = IN_FLIGHT


@dataclass(slots=True)
class Transfer:
    """A download in progress, for ``/queue``."""

    name: str
    size: int
    done: int = 0


class Inbox:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: Any,
        pool: SenderPool,
        board: StatusBoard,
        nudge: Callable[[], None],
        sinks: SinkRegistry,
        sources: SourceRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.sinks = sinks
        self.sources = sources
        self.store = store
        self.client = client
        self.pool = pool
        self.board = board
        self.nudge = nudge
        self.folder = settings.data_dir / "inbox"
        self.transfers: dict[int, Transfer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[int, tuple[asyncio.Task[None], Board | None]] = {}
        self._slots = asyncio.Semaphore(DOWNLOADS_AT_ONCE)
        self.mine = UserSettings(store, sinks)

    async def dest_for(self, who: Who, wished: str | None = None) -> str:
        """Where ``who``'s jobs go: ``wished`` (a caption's ``to:``), else their
        ``/settings to``, else the chat's default; with their delivery options."""
        mine = await self.mine.of(who.user_id, who.chat_id)
        return self.mine.with_options(wished or mine.dest or self.default_dest, mine.options)
        # Set by the door (``callbacks``): a file's status message is about to be
        # posted; a file whose person asked to choose its entries is downloaded
        # (instead of a job).
        self.on_file: Callable[[InboxRow, RemoteFile, bool], None] | None = None
        self.on_choose: Callable[[InboxRow, Board | None], Awaitable[None]] | None = None

    @property
    def default_dest(self) -> str:
        return self.settings.telegram.default_target or "library:"

    def _path_for(self, name: str) -> Callable[[int], str]:
        return lambda row_id: str(self.folder / str(row_id) / name)

    async def receive(self, message: Any, remote: RemoteFile) -> str | None:
        """``message`` (from an allowed sender) carries ``remote``; returns a reply, if due."""
        chat_id, sender_id = message.chat_id, message.sender_id
        try:
            dest = await self.dest_for(Who(sender_id, chat_id))
            wishes = read_caption(message.message or "", dest, self.sinks)
            dest = await self.dest_for(Who(sender_id, chat_id), wishes.dest)
        except FerrymanError as exc:
            await self.store.inbox_note(
                chat_id=chat_id,
                message_id=message.id,
                sender_id=sender_id,
                state=FAILED,
                code=exc.code,
            )
            return f"not taken: {exc.message}"
        added = await self.store.inbox_add(
            chat_id=chat_id,
            message_id=message.id,
            sender_id=sender_id,
            file_key=remote.key,
            name=remote.name,
            size=remote.size,
            dest=dest,
            force=wishes.force,
            path_for=self._path_for(remote.name),
        )
        if added is None:
            return None  # this very message was handled before
        row, earlier = added
        if row.state == DUPLICATE:
            where = f"job {earlier.job_id}" if earlier and earlier.job_id else "a download"
            return (
                f"{remote.name} was received before ({where}); send it again with the"
                " caption force to process it again"
            )
        if wishes.choose:
            await asyncio.to_thread(choose.ask, self.folder / str(row.id))
        await self._offer(row, remote)
        board = await self._open_board(chat_id, message.id, remote)
        self._start(row, remote, board)
        return None

    async def _offer(self, row: InboxRow, remote: RemoteFile) -> None:
        if self.on_file is not None:
            asked = await asyncio.to_thread(choose.asked, self.folder / str(row.id))
            self.on_file(row, remote, asked)

    def downloading(self, row_id: int) -> bool:
        """Whether the file of inbox row ``row_id`` is still downloading."""
        return row_id in self._running

    async def take_links(self, message: Any, links: list[str]) -> str | None:
        """Each link of ``message`` becomes a job (a ``to:``/``force`` caption applies to
        all); each gets a status message. Returns a reply for what was not taken."""
        try:
            mine = await self.mine.of(message.sender_id, message.chat_id)
            wishes = read_caption(message.message or "", mine.dest or self.default_dest, self.sinks)
            dest = self.mine.with_options(wishes.dest, mine.options)
        except FerrymanError as exc:
            return f"not taken: {exc.message}"
        problems: list[str] = []
        for link in links:
            try:
                job = await intake.add_source(
                    self.store,
                    link,
                    dest=dest,
                    force=wishes.force,
                    sources=self.sources,
                    sinks=self.sinks,
                    settings=self.settings,
                    profile=wishes.profile or mine.profile,
                )
            except FerrymanError as exc:
                problems.append(f"{link}: {exc.message} ({exc.code}) — {exc.next_step}")
                continue
            if job.error_code:
                problems.append(f"{link}: {job.error_message} ({job.error_code})")
                continue
            try:
                board = await self.board.open(
                    message.chat_id, message.id, render.queued_link(job.name)
                )
                await self.board.attach(board, job.id)
            except FerrymanError as exc:
                log.warning("no status message for job %s: %s", job.id, exc)
            self.nudge()
        return "\n".join(problems) or None

    async def _open_board(self, chat_id: int, message_id: int, remote: RemoteFile) -> Board | None:
        """The file's status message; without one (say, a flood wait) the file still comes."""
        try:
            first = render.downloading(remote.name, 0, remote.size)
            return await self.board.open(chat_id, message_id, first)
        except FerrymanError as exc:
            log.warning("no status message for %s: %s", remote.name, exc)
            return None

    async def resume(self) -> None:
        """Go on with downloads a stop or crash left half done."""
        for row in await self.store.inbox_rows([DOWNLOADING]):
            try:
                remote = await self._fetch_remote(row)
            except FerrymanError as exc:
                if exc.retryable:
                    log.warning("inbox %s: cannot resume now (%s); next start", row.id, exc)
                    continue
                await self.store.inbox_failed(row.id, exc.code)
                continue
            await self._offer(row, remote)
            board = await self._open_board(row.chat_id, row.message_id, remote)
            self._start(row, remote, board)

    async def close(self) -> None:
        """Stop the downloads; their partial files stay for the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------ download

    def _start(self, row: InboxRow, remote: RemoteFile, board: Board | None) -> None:
        task = asyncio.create_task(self._take(row, remote, board), name=f"inbox-{row.id}")
        self._tasks.add(task)
        self._running[row.id] = (task, board)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _t: self._running.pop(row.id, None))

    async def cancel_download(self) -> str | None:
        """Stop the newest file still downloading (not a job yet): its partial file is
        deleted and its row ends ``job.cancelled``, so a restart does not resume it.
        None when no file is downloading."""
        if not self._running:
            return None
        row_id = max(self._running)
        task, board = self._running.pop(row_id)
        name = self.transfers.get(row_id, Transfer("the file", 0)).name
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.store.inbox_failed(row_id, "job.cancelled")
        await asyncio.to_thread(shutil.rmtree, self.folder / str(row_id), True)
        self._show(board, render.download_failed(name, "job.cancelled", "cancelled on request"))
        return f"{name}: download cancelled; the partial file is deleted"

    async def _take(self, row: InboxRow, remote: RemoteFile, board: Board | None) -> None:
        transfer = Transfer(remote.name, remote.size)
        self.transfers[row.id] = transfer

        def progress(done: int) -> None:
            transfer.done = done
            self._show(board, render.downloading(remote.name, done, remote.size))

        try:
            async with self._slots:
                await self._download(row, remote, progress)
            if self.on_choose is not None and choose.asked(self.folder / str(row.id)):
                self._running.pop(row.id, None)
                await self.on_choose(row, board)  # the job comes once the files are chosen
                return
            job = await self._make_job(row)
            # A job now: a /cancel from here on is the job's (cancel_download must not
            # stop this task while it only tells the chat, and mark the row failed).
            self._running.pop(row.id, None)
        except FerrymanError as exc:
            await self.store.inbox_failed(row.id, exc.code)
            self._show(board, render.download_failed(remote.name, exc.code, exc.message))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: show it, keep the row for the next start
            log.exception("inbox %s: taking the file failed", row.id)
            self._show(board, render.download_failed(remote.name, "engine.internal", str(exc)))
            return
        finally:
            self.transfers.pop(row.id, None)
        await self.store.inbox_done(row.id, job.id)
        if board is not None:
            await self.board.attach(board, job.id)
        self.nudge()

    def _show(self, board: Board | None, shown: render.Shown) -> None:
        if board is not None:
            self.board.want(board, shown)

    async def _download(
        self, row: InboxRow, remote: RemoteFile, progress: Callable[[int], None]
    ) -> None:
        """Download with retries; a wait Telegram imposes is honoured and not counted."""
        assert row.path is not None
        failures = 0
        while True:
            download = Download(
                self.client,
                self.pool,
                remote.location,
                remote.size,
                Path(row.path),
                dc_id=remote.dc_id,
                in_flight=CHUNKS_IN_FLIGHT,
                refresh=lambda: self._fresh_location(row),
                on_progress=progress,
            )
            try:
                await download.run()
                return
            except TelegramWait as wait:
                await asyncio.sleep(wait.seconds)
            except FerrymanError as exc:
                failures += 1
                if not should_retry(exc, failures, self.settings.retry):
                    raise
                log.warning("inbox %s: download interrupted (%s); again", row.id, exc.code)
                await asyncio.sleep(backoff_seconds(failures, self.settings.retry))

    async def _fetch_remote(self, row: InboxRow) -> RemoteFile:
        """The file of the row's message, asked from Telegram again (fresh reference)."""
        try:
            message = await self.client.get_messages(row.chat_id, ids=row.message_id)
        except Exception as exc:
            raise from_telethon(exc) from exc
        remote = remote_file(message) if message is not None else None
        if remote is None:
            # Not retryable: a deleted message does not come back.
            raise FerrymanError("source.not_found", "the message with the file was deleted")
        return remote

    async def _fresh_location(self, row: InboxRow) -> Any:
        return (await self._fetch_remote(row)).location

    async def take_chosen(self, row: InboxRow, paths: list[str] | None) -> Job:
        """The job of the entries chosen from a downloaded archive (``choose``; None:
        all of them), with a status message of its own."""
        job = await self._make_job(row, chosen.memo_of(paths) if paths is not None else None)
        await self.store.inbox_done(row.id, job.id)
        await asyncio.to_thread(choose.forget, self.folder / str(row.id))
        try:
            board = await self.board.open(row.chat_id, row.message_id, render.job_shown(job, {}))
            await self.board.attach(board, job.id)
        except FerrymanError as exc:
            log.warning("no status message for job %s: %s", job.id, exc)
        self.nudge()
        return job

    async def _make_job(self, row: InboxRow, memos: dict[str, str] | None = None) -> Job:
        """The job for a finished download (the one already made, after a crash)."""
        assert row.path is not None and row.dest is not None
        try:
            return await intake.add_source(
                self.store, Path(row.path), dest=row.dest, sinks=self.sinks, memos=memos
            )
        except FerrymanError as exc:
            if exc.code != "source.duplicate":
                raise
        for job in await self.store.list_jobs():
            if job.source == Path(row.path).as_uri():
                return job
        raise FerrymanError("source.duplicate", f"{row.path} was added before")
