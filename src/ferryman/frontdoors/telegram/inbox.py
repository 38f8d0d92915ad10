"""Files sent in the chat become jobs at once: the door records and answers, the engine
downloads.

A file's message is the job's source (``tg:u/<chat>/<message>``, read by
``sources/telegram_link`` like a ``t.me`` link), so the engine's fetch stage downloads
it as it downloads any link: resumed after a stop, fair among the others
(``concurrency.fetch``), under a lease another node may take over, on the phone's Wi-Fi
and battery rules; the job and its status message show it from the first byte. The
inbox row (who sent which file) and the job are written in one transaction. A file
received before (same Telegram file id and size) is not taken again unless the caption
says ``force``. An archive whose person asks to choose its files is held after its
download (``engine.plumbing.chosen.HOLD``) until they choose (``callbacks``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.ops import intake, limits
from ferryman.engine.ops import who as asking
from ferryman.engine.plumbing import chosen
from ferryman.engine.plumbing.events import Event, JobFetched
from ferryman.errors import FerrymanError, next_step_for
from ferryman.frontdoors.telegram import choose, render
from ferryman.frontdoors.telegram.caption import read_caption, wished_dest, wished_preset
from ferryman.frontdoors.telegram.status import Board, StatusBoard
from ferryman.frontdoors.telegram.user_settings import UserSettings, Who
from ferryman.links import presets
from ferryman.links.profile import parse_token
from ferryman.model import Job
from ferryman.resources import Shared
from ferryman.sinks.base import SinkRegistry
from ferryman.sources.base import SourceRegistry
from ferryman.sources.telegram_link import MessageRef
from ferryman.store.chat.sql import DONE, DOWNLOADING, DUPLICATE, FAILED, InboxRow
from ferryman.store.ports import ChatDoor
from ferryman.telegram.remote import RemoteFile

log = logging.getLogger(__name__)


def message_source(chat_id: int, message_id: int) -> str:
    """The source of a file sent in the private chat ``chat_id``."""
    return str(MessageRef(message_id, user=chat_id))


def refused(exc: FerrymanError) -> str:
    """The reply to a message not taken: why; for a person's own limits and places
    (``account.*``), also the code and what to do instead."""
    said = f"not taken: {exc.message}"
    if exc.code.startswith("account."):
        said += f"\n{exc.code}: {next_step_for(exc.code, failed=False, message=exc.message)}"
    return said


class Inbox:
    def __init__(
        self,
        settings: Settings,
        store: ChatDoor,
        board: StatusBoard,
        wake: Callable[[], None],
        sinks: SinkRegistry,
        sources: SourceRegistry | None = None,
        resources: Shared | None = None,
    ) -> None:
        self.settings = settings
        self.sinks = sinks
        self.sources = sources
        self.resources = resources  # the engine's: its Telegram client asks whose a chat is
        self.store = store
        self.board = board
        self.wake = wake
        self.folder = settings.data_dir / "inbox"  # a row's folder keeps its list's ticks
        self._tasks: set[asyncio.Task[None]] = set()
        self.mine = UserSettings(store, sinks, asking.allowed_places(settings), resources)
        # Set by the door (``callbacks``): an archive's status message is about to offer
        # its choices; an archive whose person asked to choose is downloaded (held).
        self.on_file: Callable[[InboxRow, RemoteFile, bool], None] | None = None
        self.on_choose: Callable[[InboxRow, Path, Board | None], Awaitable[None]] | None = None

    async def dest_for(self, who: Who, wished: str | None = None) -> str:
        """Where ``who``'s jobs go: ``wished`` (a caption's ``to:``), else their
        ``/settings to``, else the chat's default; with their delivery options. What
        the person typed must be a place of theirs (``ops/who.own_place``: a linked
        ordinary account may not name a folder of the server, nor a Telegram chat that
        is not theirs); a bare ``library:`` of
        a person given their own library folder (``ferryman user set NAME --library
        DIR``) goes there, as their page jobs do."""
        mine = await self.mine.of(who.user_id, who.chat_id)
        typed = wished or mine.dest
        if typed is not None:
            allowed = asking.allowed_places(self.settings)
            expanded = self.sinks.expand(typed)
            typed = await asking.own_place(
                who.person, self.sinks, expanded, allowed, self.resources
            )
        dest = self.mine.with_options(typed or self.default_dest, mine.options)
        return asking.own_library(dest, who.person)

    async def preset_of(self, text: str, who: Who) -> presets.Preset:
        """The caption's ``preset:NAME`` among ``who``'s presets (their own, the built-in
        ones; the machine's own user's are the CLI's), ``preset.unknown`` naming those
        there are; none named: a preset that chooses nothing."""
        named = wished_preset(text)
        if named is None:
            return presets.Preset("", None)
        found = await asyncio.to_thread(
            presets.find, self.settings.data_dir, who.person.account, named
        )
        return found

    async def account_of(self, sender_id: int | None) -> int | None:
        """The page's account a chat user linked (``/link CODE``): their jobs are its."""
        user = await self.store.user_of_telegram(sender_id) if sender_id is not None else None
        return user.id if user is not None else None

    @property
    def default_dest(self) -> str:
        return self.settings.telegram.default_target or "library:"

    async def receive(self, message: Any, remote: RemoteFile, who: Who) -> str | None:
        """``message`` (from ``who``, allowed) carries ``remote``; returns a reply, if due.
        A person past their limits (``ops/limits``) is told so; nothing is taken."""
        chat_id, sender_id = message.chat_id, message.sender_id
        try:
            text = message.message or ""
            preset = await self.preset_of(text, who)
            dest = await self.dest_for(who, wished_dest(text, self.sinks) or preset.dest)
            wishes = read_caption(text, dest, self.sinks)
            await limits.check(self.store, who.person)
            new = intake.message_input(
                message_source(chat_id, message.id), remote.name, dest, self.sinks
            )
            name = await self.store.unique_name(new.name, new.dest)
        except FerrymanError as exc:
            await self.store.inbox_note(
                chat_id=chat_id,
                message_id=message.id,
                sender_id=sender_id,
                state=FAILED,
                code=exc.code,
            )
            return refused(exc)
        added = await self.store.inbox_add(
            chat_id=chat_id,
            message_id=message.id,
            sender_id=sender_id,
            file_key=remote.key,
            name=remote.name,
            size=remote.size,
            force=wishes.force,
            job=new.job(name, 0, None) | {"account": who.person.owner},
            memos={chosen.HOLD: ""} if wishes.choose else None,
        )
        if added is None:
            return None  # this very message was handled before
        row, earlier, job = added
        if row.state == DUPLICATE or job is None:
            where = f"job {earlier.job_id}" if earlier and earlier.job_id else "a download"
            return (
                f"{remote.name} was received before ({where}); send it again with the"
                " caption force to process it again"
            )
        if wishes.choose:
            await asyncio.to_thread(choose.ask, self.folder / str(row.id))
        await self._offer(row, remote)
        await self._show_job(row.chat_id, row.message_id, job)
        self.wake()
        return None

    async def _offer(self, row: InboxRow, remote: RemoteFile) -> None:
        if self.on_file is not None:
            asked = await asyncio.to_thread(choose.asked, self.folder / str(row.id))
            self.on_file(row, remote, asked)

    async def take_links(self, message: Any, links: list[str], who: Who) -> str | None:
        """Each link of ``message`` becomes a job (a ``to:``/``force`` caption applies to
        all); each gets a status message. Returns a reply for what was not taken."""
        try:
            text = message.message or ""
            mine = await self.mine.of(who.user_id, who.chat_id)
            preset = await self.preset_of(text, who)
            dest = await self.dest_for(who, wished_dest(text, self.sinks) or preset.dest)
            wishes = read_caption(text, dest, self.sinks)
            picked = parse_token(preset.token) if preset.token else None
        except FerrymanError as exc:
            return refused(exc)
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
                    profile=wishes.profile or picked or mine.profile,
                    who=who.person,
                )
            except FerrymanError as exc:
                step = render.chat_step(exc.next_step)  # the chat's words: no --force
                problems.append(f"{link}: {exc.message} ({exc.code}) — {step}")
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
            self.wake()
        return "\n".join(problems) or None

    async def _show_job(self, chat_id: int, reply_to: int, job: Job) -> Board | None:
        """The job's status message; without one (say, a flood wait) the job still runs."""
        try:
            board = await self.board.open(chat_id, reply_to, render.job_shown(job, {}))
            await self.board.attach(board, job.id)
            return board
        except FerrymanError as exc:
            log.warning("no status message for job %s: %s", job.id, exc)
            return None

    # ------------------------------------------------------------ held jobs

    def on_event(self, event: Event) -> None:
        """A download that ended may have held its job for a choice (never blocks)."""
        if isinstance(event, JobFetched):
            task = asyncio.create_task(self._fetched(event.job_id), name="inbox-held")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetched(self, job_id: int) -> None:
        try:
            row = await self.store.inbox_of_job(job_id)
            if row is not None:
                await self._list_if_choosing(row)
        except Exception:  # a bug: the job stays held, /resume takes everything
            log.exception("listing the files of job %s failed", job_id)

    async def _list_if_choosing(self, row: InboxRow) -> None:
        assert row.job_id is not None
        job = await self.store.get_job(row.job_id)
        fetch = await self.store.fetched(row.job_id)
        if (
            not self.waits_for_choice(job)
            or fetch is None
            or fetch.path is None
            or self.on_choose is None
        ):
            return
        await self.on_choose(row, Path(fetch.path), self.board.of_job(row.job_id))

    @staticmethod
    def waits_for_choice(job: Job) -> bool:
        """Whether ``job`` waits for its files to be chosen."""
        return job.paused and job.wait_reason == chosen.HOLD and not job.state.terminal

    async def start(self) -> None:
        """Rows an older ferryman left downloading become jobs; the lists of archives
        held for a choice are shown again."""
        for row in await self.store.inbox_rows([DOWNLOADING]):
            try:
                await self._adopt(row)
            except FerrymanError as exc:
                log.warning("inbox %s: not taken over (%s)", row.id, exc)
                await self.store.inbox_failed(row.id, exc.code)
        for row in await self.store.inbox_rows([DONE]):
            asked = await asyncio.to_thread(choose.asked, self.folder / str(row.id))
            if row.job_id is not None and asked:  # only a row asked to choose may be held
                await self._list_if_choosing(row)

    async def _adopt(self, row: InboxRow) -> None:
        dest = row.dest or self.default_dest
        new = intake.message_input(
            message_source(row.chat_id, row.message_id), row.name or "file", dest, self.sinks
        )
        name = await self.store.unique_name(new.name, new.dest)
        mine = {"account": await self.account_of(row.sender_id)}  # theirs, as when it came
        job = await self.store.inbox_job(row.id, new.job(name, 0, None) | mine)
        await self._show_job(row.chat_id, row.message_id, job)
        self.wake()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def ask_choose(self, row: InboxRow, asked: bool) -> bool:
        """Hold (or no longer hold) the row's job after its download: only while it
        downloads. Returns whether it was in time."""
        if row.job_id is None or row.state != DONE:
            return False
        if not await self.store.hold_asked(row.job_id, chosen.HOLD, asked):
            return False
        folder = self.folder / str(row.id)
        await asyncio.to_thread(choose.ask if asked else choose.forget, folder)
        return True

    async def take_chosen(
        self, row: InboxRow, paths: list[str] | None, offered: list[str] | None = None
    ) -> Job:
        """The held job goes on with the entries chosen (None: all of them) of those the
        list ``offered``, with a status message of its own."""
        assert row.job_id is not None
        memos = chosen.memo_of(paths, offered) if paths is not None else {}
        await self.store.hold_ended(row.job_id, chosen.HOLD, memos)
        await asyncio.to_thread(choose.forget, self.folder / str(row.id))
        job = await self.store.get_job(row.job_id)
        await self._show_job(row.chat_id, row.message_id, job)
        self.wake()
        return job
