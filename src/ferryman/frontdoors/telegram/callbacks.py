"""Carrying out a choice (``choices``): a bot's button pressed, or a user account's
numbered reply; both end here, so the two sessions do the same thing.

A press is answered with a short note (the app shows it as a toast); a user account's
reply gets the same note as a message. What needs more room (a report) comes as a
message of its own either way.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ferryman.archive.suffixes import named_archive
from ferryman.config import Settings
from ferryman.engine.ops import control, intake
from ferryman.engine.ops import who as asking
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram import choices, choose, render
from ferryman.frontdoors.telegram.chat import Chat
from ferryman.frontdoors.telegram.choices import Offer
from ferryman.frontdoors.telegram.commands import Commands
from ferryman.frontdoors.telegram.inbox import Inbox
from ferryman.frontdoors.telegram.status import Board
from ferryman.frontdoors.telegram.user_settings import CHOICES, Who
from ferryman.links.profile import from_caption
from ferryman.sources.base import SourceRegistry
from ferryman.store.chat.sql import InboxRow
from ferryman.store.ports import ChatDoor
from ferryman.telegram.remote import RemoteFile

log = logging.getLogger(__name__)

LINK_SCHEMES = ("http:", "https:", "media:")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".ts")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".ogg", ".opus", ".flac", ".wav", ".m3u8", ".mpd")
PAGE_SUFFIXES = (".html", ".htm", ".php", ".asp", ".aspx", ".jsp", ".shtml")


def _to_media(source: str) -> bool:
    """A link worth other forms: one the media source took (a video page, or a link a
    caption asked a form of), or a web link to a video file; not a link to a file of
    another kind (``x.bin``, ``x.zip``), even one a person's link setting sent to the
    media source: it has no video or sound to make another form of."""
    if source.startswith("media:"):
        source = source.partition(":")[2].partition(":")[2]  # media:PROFILE:URL
        return _page_or_media(urlsplit(source).path)
    path = urlsplit(source).path.lower() if source.startswith(("http:", "https:")) else ""
    return path.endswith(VIDEO_SUFFIXES)


def _page_or_media(path: str) -> bool:
    """The path names a page or a video or sound file, or has no file suffix at all."""
    suffix = PurePosixPath(path).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        return True  # /watch, /v/abc123: no suffix, a page
    return suffix in (*VIDEO_SUFFIXES, *AUDIO_SUFFIXES, *PAGE_SUFFIXES)


PROMPTS_KEPT = 100


@dataclass(frozen=True, slots=True)
class Done:
    """What a choice says back: ``note`` as the toast (or the reply of a user account)."""

    note: str


class Actions:
    def __init__(
        self,
        settings: Settings,
        store: ChatDoor,
        chat: Chat,
        commands: Commands,
        inbox: Inbox,
        sources: SourceRegistry,
    ) -> None:
        self.settings = settings
        self.store = store
        self.chat = chat
        self.commands = commands
        self.inbox = inbox
        self.sources = sources
        self.picking: dict[int, choose.Picking] = {}  # by inbox row
        self.prompts: dict[tuple[int, int], int] = {}  # (chat, prompt message) -> job
        chat.job_offer = self.job_offer
        inbox.on_file = self.offer_archive
        inbox.on_choose = self.show_list

    # ------------------------------------------------------------- offers

    async def job_offer(self, job_id: int) -> Offer | None:
        """What a job's status message offers: an archive sent in the chat, while it
        downloads, its files' choice; else the job's controls."""
        try:
            job = await self.store.get_job(job_id)
        except FerrymanError:
            return None
        row = await self.store.inbox_of_job(job_id)
        if row is not None and row.name and named_archive(row.name) and not job.state.terminal:
            fetch = await self.store.fetched(job_id)
            if fetch is not None and fetch.state != "done":
                asked = await asyncio.to_thread(choose.asked, self.inbox.folder / str(row.id))
                return choices.archive_offer(row.id, asked)
        return choices.job_offer(job, link=_to_media(job.source))

    def offer_archive(self, row: InboxRow, remote: RemoteFile, asked: bool) -> None:
        """An archive's status message offers to choose its files while it downloads
        (``asked``: its person asked already, by the caption ``choose``)."""
        if named_archive(remote.name):
            offer = choices.archive_offer(row.id, asked)
            self.chat.offer_on_reply(row.chat_id, row.message_id, offer)

    # ---------------------------------------------------------------- run

    async def run(self, chat_id: int, message_id: int, action: str, who: Who) -> Done:
        """Carry out ``action``, chosen on message ``message_id`` of ``chat_id`` by
        ``who``: on their own jobs only (a button's data is the client's to send, so
        a job, a list or a download named in it is checked as a typed number is)."""
        parsed = choices.parse(action)
        if parsed is None:
            return Done("that choice is not one I know")
        kind, number, rest = parsed
        self.commands.who = who  # the job commands below act for the one who pressed
        try:
            if kind == "s":
                return await self._setting(who, message_id, number, rest)
            if kind == "t" and rest == "topics":
                return await self._topics(who, message_id, number)
            if kind == "j":
                return await self._job(chat_id, message_id, number, rest)
            if kind == "l":
                return await self._link(chat_id, message_id, number, rest, who)
            if kind == "a":
                return await self._archive(chat_id, message_id, number, rest)
            return await self._pick(number, rest, chat_id)
        except FerrymanError as exc:
            return Done(f"{exc.code}: {exc.message}")

    async def _job(self, chat_id: int, message_id: int, job_id: int, what: str) -> Done:
        if what in ("cancel", "retry"):
            run = self.commands.cancel if what == "cancel" else self.commands.retry
            return Done(await run(str(job_id)))  # its message (and buttons) follow
        if what == "report":
            text = await self.commands.report(str(job_id))
            await self.chat.send(chat_id, text, reply_to=message_id)
            return Done(f"job {job_id}: the report is below")
        if what == "pass":
            prompt = await self.chat.send(
                chat_id,
                f"job {job_id}: reply to this message with the archive's password",
                reply_to=message_id,
                prompt=True,
            )
            self.prompts[(chat_id, prompt)] = job_id
            while len(self.prompts) > PROMPTS_KEPT:
                self.prompts.pop(next(iter(self.prompts)))
            # A bot's toast; a user account's answer would be a second message saying
            # what the prompt just said ("" sends none).
            return Done(
                f"job {job_id}: reply to my message with the password" if self.chat.bot else ""
            )
        return Done("that choice is not one I know")

    # ----------------------------------------------------------- settings

    async def offer_settings_on_reply(self, text: str, who: Who, message_id: int) -> None:
        """``/settings`` (no KEY): its answer offers each setting's usual values."""
        head, _, rest = text.strip().partition(" ")
        if head.lstrip("/").split("@", 1)[0].lower() != "settings" or rest.strip():
            return
        self.chat.offer_on_reply(who.chat_id, message_id, await self._settings_offer(who))

    async def _settings_offer(self, who: Who) -> Offer:
        """``/settings``'s choices: the usual values, and the forum groups the account
        is in (``Chat.forums``), each a topic per folder: a person's only where their
        linked account is a member (none unlinked), as ``to`` would take it; listing
        the server's others would name groups that are none of theirs."""
        stored = await self.store.user_settings(who.user_id)
        person = who.person
        forums = self.chat.forums() if person.admin else self.chat.forums_of(person.telegram)
        return choices.settings_offer(stored, await forums)

    async def _setting(self, who: Who, message_id: int, index: int, key: str) -> Done:
        """An option of ``/settings`` chosen: set as ``/settings KEY VALUE`` sets it,
        and the message shows the settings as they are now."""
        choice = next((c for c in CHOICES if c.key == key), None)
        if choice is None or index >= len(choice.options):
            return Done("that choice is not one I know")
        return await self._set(who, message_id, key, choice.options[index].value)

    async def _topics(self, who: Who, message_id: int, channel_id: int) -> Done:
        """A forum group chosen in ``/settings``: ``to`` it, a topic per folder."""
        return await self._set(who, message_id, "to", choices.topics_dest(channel_id))

    async def _set(self, who: Who, message_id: int, key: str, value: str) -> Done:
        said = await self.commands.mine.change(who, key, value)
        shown = await self.commands.run("/settings", who)
        await self.chat.offer(who.chat_id, message_id, await self._settings_offer(who), text=shown)
        return Done(said)

    async def password_reply(
        self, chat_id: int, reply_to: int | None, text: str, who: Who
    ) -> str | None:
        """A reply to a password prompt gives the job its password (None: not one)."""
        job_id = self.prompts.get((chat_id, reply_to or 0))
        if job_id is None or not text.strip():
            return None
        self.commands.who = who
        answer = await self.commands.password(f"{job_id} {text.strip()}")
        if answer.startswith(f"job {job_id}: password added"):
            self.prompts.pop((chat_id, reply_to or 0), None)
        return answer

    async def _link(self, chat_id: int, message_id: int, job_id: int, form: str, who: Who) -> Done:
        """The same link again in another form, with a status message of its own (a
        reply to the one pressed), ``who``'s as the first was, within their limits;
        the job asked before is cancelled if it has not ended (what it delivered stays)."""
        job = await asking.own_job(self.store, who.person, job_id)
        if not job.source.startswith(LINK_SCHEMES):
            return Done(f"job {job_id} is not a link")
        link = self.sources.address(job.source)
        made = await intake.add_source(
            self.store,
            link,
            dest=job.dest,
            sources=self.sources,
            sinks=self.inbox.sinks,
            settings=self.settings,
            profile=from_caption(form),
            who=who.person,
        )
        try:
            board = await self.inbox.board.open(chat_id, message_id, render.queued_link(made.name))
            await self.inbox.board.attach(board, made.id)
        except FerrymanError as exc:
            log.warning("no status message for job %s: %s", made.id, exc)
        note = ""
        if not job.state.terminal:
            await control.cancel_job(self.store, job.id, who=who.person)
            note = f"; job {job.id} cancelled"
        self.commands.wake()
        return Done(f"job {made.id}: {form} of the same link{note}")

    async def _archive(self, chat_id: int, message_id: int, row_id: int, what: str) -> Done:
        row = await self._row(row_id)
        if row is not None and row.chat_id != chat_id:
            row = None  # another chat's file: as one that does not exist
        if row is None or not (
            row_id in self.picking or await self.inbox.ask_choose(row, what == "choose")
        ):
            done = f" (job {row.job_id})" if row is not None and row.job_id else ""
            return Done(
                f"too late: the archive is already being read{done}; to pick its files,"
                " send it again with the caption choose force"
            )
        if what == "choose":
            note = "you choose the files once it is downloaded"
        else:
            note = "everything comes once it is downloaded"
        await self.chat.offer(chat_id, message_id, choices.archive_offer(row_id, what == "choose"))
        return Done(note)

    async def _row(self, row_id: int) -> InboxRow | None:
        rows = await self.store.inbox_rows()
        return next((r for r in rows if r.id == row_id), None)

    # ------------------------------------------------------- choose files

    async def show_list(self, row: InboxRow, path: Path, board: Board | None) -> None:
        """The archive is downloaded and its job held: list its files."""
        name = row.name or path.name
        if board is not None:
            self.chat.drop_offer(board.chat_id, board.message_id)
            shown = render.Shown(100, "ended", f"{name}: downloaded; choose its files", final=True)
            self.inbox.board.let_go(board, shown)
        options = choose.listing_options(self.settings)
        try:
            documents = self.settings.send_documents
            entries = await asyncio.to_thread(choose.list_archive, path, options, documents)
        except FerrymanError as exc:  # names locked by a password, a missing volume…
            job = await self.inbox.take_chosen(row, None)
            await self.chat.send(
                row.chat_id,
                f"{name}: its files cannot be listed ({exc.code}: {exc.message});"
                f" everything comes instead, as job {job.id}",
                reply_to=row.message_id,
            )
            return
        picking = choose.Picking(row.id, row.chat_id, row.message_id, name, entries)
        await asyncio.to_thread(picking.restore, self.inbox.folder / str(row.id))
        self.picking[row.id] = picking
        picking.message_id = await self.chat.send(
            row.chat_id,
            picking.text(self.chat.bot),
            reply_to=row.message_id,
            offer=picking.offer() if self.chat.bot else None,
        )
        if not self.chat.bot:
            self.chat.numbered.offered(row.chat_id, picking.message_id, None)

    async def _pick(self, row_id: int, what: str, chat_id: int) -> Done:
        picking = self.picking.get(row_id)
        if picking is None or picking.chat_id != chat_id:
            return Done("this list is gone; send the archive again with the caption choose")
        if what == "go":
            return await self._deliver(picking)
        if what == "x":
            return await self._drop(picking)
        if what in ("all", "none"):
            picking.choose_all(what == "all")
        elif what[:1] == "t" and what[1:].isdigit():
            picking.toggle(int(what[1:]))
        elif what[:1] == "p" and what[1:].isdigit():
            picking.turn(int(what[1:]))
        folder = self.inbox.folder / str(row_id)
        await asyncio.to_thread(picking.save, folder)
        await self._redraw(picking)
        return Done(f"{len(picking.chosen)} chosen")

    async def _redraw(self, picking: choose.Picking, text: str | None = None) -> None:
        if picking.message_id is None:
            return
        bot = self.chat.bot
        offer = picking.offer() if bot and text is None else None
        await self.chat.offer(
            picking.chat_id, picking.message_id, offer, text=text or picking.text(bot)
        )

    async def _deliver(self, picking: choose.Picking) -> Done:
        if not picking.chosen:
            return Done("choose at least one file first")
        row = await self._row(picking.row_id)
        job = await self.store.get_job(row.job_id) if row and row.job_id else None
        if row is None or job is None or not self.inbox.waits_for_choice(job):
            return Done("this archive was taken already")
        paths = picking.chosen_paths()
        offered = [entry.path for entry in picking.entries]
        job = await self.inbox.take_chosen(row, paths, offered)
        self.picking.pop(picking.row_id, None)
        left = len(picking.entries) - len(paths)
        told = f"{picking.name}: {len(paths)} files chosen, job {job.id}; {left} left alone"
        await self._redraw(picking, told)
        return Done(f"job {job.id}: {len(paths)} files")

    async def _drop(self, picking: choose.Picking) -> Done:
        """None of its files: its held job is cancelled and removed (the download with
        its work folder), its row ends cancelled (a restart does not list it again;
        sending it again takes it anew)."""
        self.picking.pop(picking.row_id, None)
        row = await self._row(picking.row_id)
        await self.store.inbox_failed(picking.row_id, "job.cancelled", let_go=True)
        if row is not None and row.job_id is not None:
            await control.cancel_job(self.store, row.job_id)
            await control.remove_job(self.store, self.settings, row.job_id)
        await asyncio.to_thread(shutil.rmtree, self.inbox.folder / str(picking.row_id), True)
        await self._redraw(picking, f"{picking.name}: dropped; the download is deleted")
        return Done(f"{picking.name}: dropped")

    async def pick_reply(self, chat_id: int, reply_to: int | None, text: str) -> Done | None:
        """A user account's reply to a list: numbers to deliver, or next / prev."""
        here = [p for p in self.picking.values() if p.chat_id == chat_id]
        if reply_to is not None:
            here = [p for p in here if p.message_id == reply_to]
        if not here:
            return None
        picking = here[-1]
        word = text.strip().lower()
        if word == "drop":
            return await self._drop(picking)
        if word in ("next", "prev"):
            picking.turn(picking.page + (1 if word == "next" else -1))
            await self._redraw(picking)
            return Done(f"page {picking.page + 1} of {picking.pages}")
        if word == "all":
            picking.choose_all(True)
            return await self._deliver(picking)
        picked = choose.numbers(text, len(picking.entries))
        if picked is None:
            return None
        picking.chosen = picked
        return await self._deliver(picking)
