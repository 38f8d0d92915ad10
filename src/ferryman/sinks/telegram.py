"""The Telegram sink: albums that arrive exactly once, as media, with their attributes.

Per album: every file is uploaded once and turned into a media reference
(``messages.uploadMedia``), which the store keeps (a document sent alone keeps its
upload instead: ``sendMedia`` takes it as it is); the ``random_id`` of every message is
chosen and stored before the first send; ``messages.sendMultiMedia`` sends up to ten at
a time; the message ids Telegram made are stored per file. A crash anywhere repeats the
same sends with the same ``random_id``s, and Telegram answers a repeat with the first
send's messages instead of posting again. A file Telegram refuses as media goes as a
document; one it refuses even so is dropped from the album (and quarantined by the
deliver stage) while the rest goes out without uploading anything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.model import Job, SinkRecord
from ferryman.sinks.base import CaptionRender, Delivered, Delivery, Sink, Tally
from ferryman.sinks.telegram_accounts import Attempt, choose, gives_way, mine
from ferryman.sinks.telegram_files import documents_of, file_records, joined_name
from ferryman.sinks.telegram_index import JobIndex
from ferryman.sinks.telegram_media import fitted_thumb, video_facts
from ferryman.sinks.telegram_state import (
    AlbumRecords,
    Fresh,
    MediaRef,
    OpenCaption,
    PlannedSend,
    TelegramState,
    caption_note,
)
from ferryman.sinks.telegram_target import ALBUM_MAX, TelegramTarget
from ferryman.sinks.telegram_topics import ForumTopics, folder_title
from ferryman.telegram.accounts import AccountPool, Member
from ferryman.telegram.early_pool import PoolEarlyUploads
from ferryman.telegram.early_upload import GrowingFile
from ferryman.telegram.errors import TelegramWait, from_telethon

if TYPE_CHECKING:
    from ferryman.media.box.pool import Decoder

from ferryman.telegram.outgoing import (
    Outgoing,
    VideoFacts,
    decode,
    encode,
    media_for,
    outgoing_files,
    reference,
    video_extras,
)

log = logging.getLogger(__name__)

# Files of an album prepared (uploaded, then uploadMedia) at once: a photo is one part,
# so one file at a time leaves one part and one round trip in flight. The uploader's
# window still bounds the parts in flight over all of them.
PREPARE_AT_ONCE = ALBUM_MAX
# Captions made final at a job's end, at once: those of the albums sent before its
# reading ended (~14 for photos at the default backlog of 100 files, three albums
# ahead), in one round trip; at 8 the bench's 14-15 took two (2026-11-29).
EDITS_AT_ONCE = 16
POOL_SEES_AHEAD = 16  # albums claimed ahead per account of a pool, at most
# An upload that took this long has its reference kept before its album's end (with any
# others made since the album last kept some, at most once in this long; at once if it
# took four times this): a crash or a lost lease mid-album then never costs a big file's
# upload again (``telegram_state.Fresh``).
KEEP_AT_ONCE_AFTER = 2.0  # seconds
# Telegram no longer has the parts of an upload kept for ``sendMedia`` (they last less
# than a day): the file is uploaded again, as for an expired reference.
_GONE = (tg.FileReferenceExpiredError, tg.FilePartMissingError, tg.FilePart0MissingError)
REFUSED_ALL = "none"  # a ref's message id when Telegram refused every file of the album
DUPLICATE_RETRIES = 6  # RANDOM_ID_DUPLICATE: the first send is still being processed
REFUSED = FerrymanError(
    "telegram.media_rejected", "Telegram refused the file as media and as a document"
)

_T = TypeVar("_T")
_NO_GATE = contextlib.nullcontext()


@dataclass(slots=True)
class _Ready:
    out: Outgoing
    send: PlannedSend
    media: Any  # InputMediaPhoto / InputMediaDocument
    family: str
    sha256: str | None = None  # the item's hash, taken as the upload read its file


class TelegramSink(Sink):
    # Uploads read every file whole: a file staged unhashed is hashed by that read
    # (``Delivered.hashes``), not read once more before it goes (``TelegramKind``
    # says so: ``hashes_as_it_reads``). Albums are uploaded ahead of their turn.
    prepares = True

    def __init__(
        self,
        accounts: AccountPool,
        state: TelegramState,
        target: TelegramTarget,
        *,
        caption_limit: int,
        clock: Callable[[], float],
        document_thumb: Path | None = None,
        index: str = "topics",
        documents_only: bool = False,
    ) -> None:
        self.accounts = accounts  # the pool: each album through one of its accounts
        # One account: two albums under way (one uploading, one sending) keep it busy.
        # A pool: its accounts pull albums (``AccountPool.take``) from many seen ahead,
        # so a big album late in the job starts early, not at its turn through one.
        several = accounts is not None and accounts.several
        members = len(accounts.members) if accounts is not None else 0
        self.prepares_at_once = POOL_SEES_AHEAD * members if several else 2 * members
        self.senders = members if several else 1  # a job's reading feeds each account
        self.state = state
        self.target = target
        self.caption_limit = caption_limit
        self.clock = clock
        self.document_thumb = document_thumb  # the job's ``?thumb=``: documents show it
        # Every file as a document (``link:telegram``): Telegram keeps its bytes as sent
        # (a photo would be recompressed), so each is a link to the delivered file.
        self.documents_only = documents_only
        self.topics = ForumTopics(state.state)  # ``/topics``: a forum topic per folder
        # ``telegram.index``: a job's index of links, with topics ("topics") or always
        by_folder = target is not None and target.by_folder  # a test's sink has none
        self.index = (
            JobIndex(state.state)
            if index == "always" or (index == "topics" and by_folder)
            else None
        )

    def warm(self) -> None:
        """A job bound here started reading: log in and open the upload connections now,
        unless Telegram asked the account to wait."""

        for member in self.accounts.members:

            async def allowed(member: Member = member) -> bool:
                return await self.state.wait_until([member.scope("account")]) <= self.clock()

            member.hub.warm(allowed)

    def early_upload_starter(self) -> Callable[[Path, int], GrowingFile | None]:
        """On the loop, for a job whose big entries are staged now: what the reading
        thread asks for each, so its upload runs while it is written
        (``telegram/early_upload.py``); the delivery then takes it instead of uploading.
        Through a pool, each through an account its album then goes through
        (``telegram/early_pool.py``)."""
        chat = self._label()
        if not self.accounts.several or chat in self.accounts.own_chats:
            return self.accounts.own.hub.early_uploads().start
        return PoolEarlyUploads(self.accounts, chat, self.clock, asyncio.get_running_loop()).start

    # ---------------------------------------------------------------- deliver

    async def prepare(self, delivery: Delivery) -> dict[int, str]:
        """Before the album's turn: upload its files and store their media references,
        sending nothing (its sends wait for the albums before it: ``deliver``). The
        ``random_id``s are planned here, still before any send. Item id → the hash of a
        file staged unhashed, taken as it was uploaded."""
        return _hashes(await self._prepared(delivery))

    async def deliver(self, delivery: Delivery) -> Delivered:
        hashes = _hashes(await self._prepared(delivery, send=True))
        sends = await self.state.sends_now(delivery.job.id, delivery.album.id)
        # As stored (read, or planned and recorded by this delivery, not read back), so
        # a repeat after a crash names the same files.
        dropped = {s.item_id for s in sends if s.state == "dropped"}
        dropped -= {s.item_id for s in sends if s.state == "sent"}  # a split item partly sent
        refused = dict.fromkeys(sorted(dropped), REFUSED)
        sent = [p for p in sends if p.state == "sent"]
        if sent and self.index is not None:
            await self._indexed(delivery, sent)
        if sent:
            ref = f"telegram:{self._label()}#{sent[0].message_id}"
            keep = self.state.kept(delivery.job.id, delivery.album.id)
            return Delivered(ref, refused, hashes, keep)
        if sends and all(p.state == "dropped" for p in sends):
            # Every file refused in every form: nothing to retry; the engine keeps each
            # in quarantine, as it does a single refused file of an album that went out.
            return Delivered(f"telegram:{self._label()}#{REFUSED_ALL}", refused, hashes)
        raise FerrymanError("telegram.server", "the album's sends ended with none recorded")

    async def _indexed(self, delivery: Delivery, sent: list[PlannedSend]) -> None:
        """The album's files recorded as lines of the job's index, then the index made to
        match every line recorded (``sinks/telegram_index``), before the album is
        recorded delivered: a kill in between repeats both, and the index ends right."""
        assert self.index is not None
        job, album = delivery.job, delivery.album
        files = {(f.item.id, f.part): f for f in outgoing_files(album)}
        topics = await self.topics.recorded(job.id) if self.target.by_folder else {}

        def topic_of(f: Outgoing) -> int | None:
            return topics.get(folder_title(f.item.source_path, job.name), self.target.topic)

        await self.index.record_album(album.id, album.seq, sent, files, topic_of)

        async def client_of(name: str | None) -> Any:
            member = self.accounts.member(name)
            return None if member is None else await member.hub.client()

        account = sent[0].account
        client = await client_of(account)
        if client is None:
            return
        peer = await self._peer(client)
        async with self.accounts.index_lock:  # one writer of indexes in this engine
            await self.index.write(job.id, job.name, peer, account, client_of)

    async def make_captions_final(self, job: Job, render: CaptionRender) -> int:
        """The job ended: each album sent before its number of albums was known ("1/3+")
        has its caption edited to the final one ("1/2"), once. A caption that cannot be
        edited (the message deleted, the chat gone) stays as it was: it only counts.
        Up to ``EDITS_AT_ONCE`` edits go at once: one after the other, a job of many
        albums ended a round trip per album after its last send (15 of 20 in the bench)."""
        opened = await self.state.captions_open(job.id)
        if not opened:
            return 0
        calls: list[Callable[[], Awaitable[bool]]] = [
            functools.partial(self._make_final, job, render, open_caption)
            for _, open_caption in sorted(opened.items())
        ]
        edited = sum(await _at_most(EDITS_AT_ONCE, calls))
        await self.state.captions_closed(job.id, list(opened))
        return edited

    async def _make_final(self, job: Job, render: CaptionRender, open_caption: OpenCaption) -> bool:
        """One album's caption edited to its final text: whether it was (never raises:
        cosmetic, the album is delivered either way)."""
        final = render(open_caption.seq, open_caption.items, open_caption.fields)
        if final == open_caption.caption or open_caption.message_id is None:
            return False
        member = self.accounts.member(open_caption.account)  # only its sender edits
        try:
            if member is None:
                raise FerrymanError("telegram.not_logged_in", "its account logged out")
            client = await member.hub.client()
            peer = await self._peer(client)
        except Exception as exc:  # logged out, the chat gone: it stays as sent
            log.warning("job %s: a caption not made final: %s", job.id, exc)
            return False
        text = _fit_caption(final, min(self.caption_limit, member.caption_limit))
        request = functions.messages.EditMessageRequest(
            peer=peer, id=open_caption.message_id, message=text
        )
        try:
            await client(request)
        except Exception as exc:  # cosmetic: the album is delivered either way
            log.warning(
                "album %s of job %s: caption not made final: %s", open_caption.seq, job.id, exc
            )
            return False
        return True

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether no message of the album can have gone: none of its ``random_id``s was
        ever planned (they are, before any upload or send). Once one is, a send may have
        reached Telegram unanswered, so the engine does not split the album."""
        return not await self.state.sends(delivery.job.id, delivery.album.id)

    async def _prepared(self, delivery: Delivery, *, send: bool = False) -> list[_Ready]:
        """The album through one account of the pool (``sinks/telegram_accounts``): one
        that is refused or must wait gives way to the others while none of the album's
        sends was tried through it."""
        given_way: set[str] = set()
        last: FerrymanError | None = None
        chat = self._label()
        while True:
            attempt = await choose(
                self.accounts, self.state, delivery, chat, given_way, self.clock(), last
            )
            member = attempt.member
            member.busy += 1
            began = time.monotonic()
            try:
                ready = await self._prepared_by(attempt, delivery, send=send)
                member.figures.albums += send
            except FerrymanError as exc:
                if not await gives_way(self.accounts, self.state, attempt, chat, exc):
                    raise
                given_way.add(member.name)
                last = exc
                continue
            finally:
                attempt.release()  # its account's turn, if it failed before its uploads
                member.busy -= 1
                member.figures.seconds += time.monotonic() - began
                self.accounts.noted()
            return ready

    async def _prepared_by(
        self, attempt: Attempt, delivery: Delivery, *, send: bool = False
    ) -> list[_Ready]:
        """Every pending file of the album as a media reference (stored ones reused);
        ``send``: then the album's messages go out, in chunks of at most ten, the
        caption on the first slot not dropped."""
        job_id, album_id = delivery.job.id, delivery.album.id
        # One read: the album's sends and the references its files already have; read
        # beside the waits' (reads, no request): a hop fewer before each album's send.
        records = asyncio.ensure_future(self.state.album(job_id, album_id))
        # And its files' sizes (a stat each, for the tally), on a thread beside them:
        # awaited after them, a thread hop in a row before each album's send.
        files = outgoing_files(delivery.album)
        sized = asyncio.ensure_future(asyncio.to_thread(_sizes, files))
        for future in (records, sized):
            future.add_done_callback(_retrieved)
        try:
            return await self._through(attempt, delivery, records, (files, sized), send=send)
        finally:
            for future in (records, sized):
                if not future.done():
                    future.cancel()
                    await asyncio.gather(future, return_exceptions=True)

    async def _through(
        self,
        attempt: Attempt,
        delivery: Delivery,
        records: asyncio.Future[AlbumRecords],
        sized: tuple[list[Outgoing], asyncio.Future[dict[int, int]]],
        *,
        send: bool,
    ) -> list[_Ready]:
        """:meth:`_prepared_by`, the album's records and its files' sizes (by slot)
        being read (``records``, ``sized``)."""
        member = attempt.member
        # An account-wide wait (even from before a restart) holds every request, the
        # connection and the chat's lookup included; slow mode holds only its chat: read
        # with the account's when the account looked the chat up before (a read in a row
        # less before each album's send), else once it has.
        chat = self._label()
        known = member.peers.get(chat)
        peer_scopes = [member.scope(f"peer:{known}")] if known is not None else []
        await self._honour_waits(member.scope("account"), *peer_scopes)
        peer_key = "?"
        # Uploads start while the login is checked; nothing is posted before it is.
        client, login = await member.hub.connecting()
        try:
            peer = await self._peer(client)
            peer_key = member.peers[chat] = _peer_key(peer)
            if peer_key != known:
                await self._honour_waits(member.scope(f"peer:{peer_key}"))
            if self.accounts.several:  # may it post there? asked once per account and chat
                await attempt.check_rights(self.accounts, client, peer)
            files = sized[0]
            job_id, album_id = delivery.job.id, delivery.album.id
            stored = await records
            _same_account(stored.sends, member)
            plan = await self.state.plan_sends(
                job_id,
                album_id,
                [(f.item.id, f.part) for f in files],
                stored.sends,
                account=None if member.own else member.name,
                pooled=self.accounts.several,
            )
            attempt.sends = plan
            by_slot = {p.slot: p for p in plan}
            first = min((p.slot for p in plan if p.state != "dropped"), default=None)
            pending = [f for f in files if by_slot[f.slot].state == "pending"]
            every = await sized[1]
            sizes = {f.slot: every[f.slot] for f in pending}
            tally = delivery.tally(sizes)
            member.figures.bytes += sum(sizes.values())
            alone = len(files) == 1  # sent with sendMedia, which takes an upload as it is
            fresh = Fresh(time.monotonic())  # references made now, kept together
            # Its parts all sent, the account's next album uploads beside its uploadMedia.
            countdown = _countdown(
                sum(mine(stored.media.get((f.item.id, f.part)), member) is None for f in pending),
                attempt.release,
            )
            calls: list[Callable[[], Awaitable[_Ready | None]]] = [
                functools.partial(
                    self._ready,
                    member,
                    client,
                    peer,
                    f,
                    by_slot[f.slot],
                    mine(stored.media.get((f.item.id, f.part)), member),
                    fresh,
                    tally,
                    alone=alone,
                    uploaded=countdown,
                    decoder=delivery.decoder,
                )
                for f in pending
            ]
            try:
                # Through a pool, an account uploads its albums one after the other: two
                # side by side share its cap, and the first to be sent would end last.
                uploads = any(
                    mine(stored.media.get((f.item.id, f.part)), member) is None for f in pending
                )
                # Handed by the pool: its turn, after the account's albums handed before.
                pooled_gate = self.accounts.several and uploads and attempt.pool is None
                gate = member.uploading if pooled_gate else _NO_GATE
                try:
                    await attempt.turn()
                    async with gate:
                        prepared = await _at_most(PREPARE_AT_ONCE, calls)
                finally:
                    attempt.release()  # the pool hands its account the next album
            except Exception:
                await self.state.media_put(job_id, album_id, fresh)  # what did get uploaded
                raise
            await self.state.media_put(job_id, album_id, fresh)
            ready = [r for r in prepared if r is not None]
            if send and delivery.on_prepared is not None:
                await delivery.on_prepared()
            await asyncio.shield(login)
            if send:
                # "1/3+": noted with the captioned message, made final when the job ends
                note = None if delivery.caption_final else caption_note(delivery)
                await attempt.before_send()  # through a pool: its account is bound now
                limit = min(self.caption_limit, member.caption_limit)
                topics = await self._topics_of(client, peer, delivery, files, member)
                chunks = _chunks(ready, topics)
                for n, chunk in enumerate(chunks, 1):
                    # The last send's records go with the album's record of delivery (a
                    # commit less an album), but not past an index's lines and requests.
                    later = n == len(chunks) and self.index is None
                    await self._send(
                        member,
                        client,
                        peer,
                        peer_key,
                        chunk,
                        delivery.caption,
                        first,
                        note,
                        limit,
                        delivery.decoder,
                        topics.get(chunk[0].send.slot),
                        later=later,
                    )
        except TelegramWait as wait:
            await self._record_wait(member, wait, peer_key)
            raise
        except Exception as exc:
            _raise_login_error(login, exc)  # a session not logged in failed what went first
            raise
        return ready

    async def _topics_of(
        self, client: Any, peer: Any, delivery: Delivery, files: list[Outgoing], member: Member
    ) -> dict[int, int]:
        """``/topics``: each slot's forum topic, by its file's top folder (each topic
        found or made once, and recorded, before any album goes to it); else none."""
        if not self.target.by_folder:
            return {}
        titles = {f.slot: folder_title(f.item.source_path, delivery.job.name) for f in files}
        account = None if member.own else member.name
        ids: dict[str, int] = {}
        for title in dict.fromkeys(titles.values()):
            ids[title] = await self.topics.topic_for(client, peer, delivery.job.id, title, account)
        return {slot: ids[title] for slot, title in titles.items()}

    def _label(self) -> str:
        chat = str(self.target.chat)
        return f"{chat}/topic/{self.target.topic}" if self.target.topic else chat

    async def _peer(self, client: Any) -> Any:
        chat = self.target.chat
        try:
            try:
                return await client.get_input_entity(chat)
            except ValueError:
                if isinstance(chat, int) and not (await client.get_me()).bot:
                    await client.get_dialogs()  # ids of chats not seen yet come from dialogs
                    return await client.get_input_entity(chat)
                raise
        except ValueError as exc:
            raise FerrymanError(
                "telegram.peer_invalid", f"{chat} is not a chat this account can see"
            ) from exc
        except Exception as exc:
            raise from_telethon(exc) from exc

    # ------------------------------------------------------------------ waits

    async def _honour_waits(self, *scopes: str) -> None:
        """A wait Telegram imposed earlier (even before a restart): no request until it ends."""
        until = await self.state.wait_until(scopes)
        left = until - self.clock()
        if left > 0:
            raise TelegramWait(
                "telegram.flood_wait",
                f"waiting {math.ceil(left)} s as Telegram asked",
                math.ceil(left),
            )

    async def _record_wait(self, member: Member, wait: TelegramWait, peer_key: str) -> None:
        scope = f"peer:{peer_key}" if wait.code == "telegram.slowmode_wait" else "account"
        until = self.clock() + wait.seconds
        await self.state.wait_set(member.scope(scope), until, wait.code)
        member.figures.waits += 1
        member.figures.waiting_until = max(member.figures.waiting_until, until)

    # ------------------------------------------------------------------ media

    async def _ready(
        self,
        member: Member,
        client: Any,
        peer: Any,
        out: Outgoing,
        send: PlannedSend,
        stored: MediaRef | None,
        fresh: Fresh,
        tally: Tally | None = None,
        *,
        alone: bool = False,
        uploaded: Callable[[], None] | None = None,
        decoder: Decoder | None = None,
    ) -> _Ready | None:
        """The file's media reference: ``stored``, else upload and ``uploadMedia`` (the
        new reference goes into ``fresh``, for the caller to keep with the others).
        ``alone``: the file goes in a message of its own (see :func:`_keeps_upload`).
        ``uploaded``: called once its parts have all gone (before they are all
        acknowledged, and before ``uploadMedia``). ``decoder``: where the file is probed
        or a thumbnail fitted (the engine's media box; None: in this process)."""
        if stored is not None:
            if tally is not None:
                tally.whole(out.slot)  # uploaded before: nothing to send
            return _Ready(out, send, decode(stored.media), stored.family)
        uploader = await member.hub.uploader()
        # A video's facts and thumbnail are made and uploaded while the video uploads.
        extras = (
            asyncio.ensure_future(
                video_extras(out, uploader, functools.partial(video_facts, decoder=decoder))
            )
            if out.kind == "video"
            else None
        )
        try:
            return await self._upload_and_refer(
                member,
                client,
                peer,
                out,
                send,
                uploader,
                extras,
                fresh,
                tally,
                alone=alone,
                uploaded=uploaded,
                decoder=decoder,
            )
        finally:
            if extras is not None and not extras.done():
                extras.cancel()
                await asyncio.gather(extras, return_exceptions=True)

    async def _upload_and_refer(
        self,
        member: Member,
        client: Any,
        peer: Any,
        out: Outgoing,
        send: PlannedSend,
        uploader: Any,
        extras: asyncio.Future[tuple[VideoFacts, Any]] | None,
        fresh: Fresh,
        tally: Tally | None = None,
        *,
        alone: bool = False,
        uploaded: Callable[[], None] | None = None,
        decoder: Decoder | None = None,
    ) -> _Ready | None:
        progress = None if tally is None else (lambda done, _size: tally.sent(out.slot, done))
        # A file staged unread (a person's big file, linked) is hashed by this read.
        digest = hashlib.sha256() if out.item.sha256 is None and not out.item.parts else None
        began = time.monotonic()
        # Told once its parts have all gone, before the last is acknowledged.
        gone = _once(uploaded) if uploaded is not None else None
        ahead = None  # a piece of a file is never uploaded ahead (the whole is not sent)
        if out.window is None:
            ahead = await member.hub.early_uploads().take(out.path, progress)
        if ahead is not None:  # uploaded while it was staged: nothing left to send
            handle = ahead.named(out.name)
            if progress is not None:
                progress(ahead.identity[2], ahead.identity[2])
            sha256 = ahead.sha256 if digest is not None else None
            took = math.inf  # uploaded while it was staged: kept at once
        else:
            handle = await uploader.upload(
                out.path,
                name=out.name,
                progress=progress,
                digest=digest,
                sent=gone,
                window=out.window,
            )
            took = time.monotonic() - began
            sha256 = digest.hexdigest() if digest is not None else None
        if gone is not None:
            gone()
        documents = out.kind == "document" or self.documents_only
        attempts = [True] if documents else [False, True]
        last: FerrymanError | None = None
        anew = False  # uploaded again: Telegram no longer held a resumed upload's parts
        while attempts:
            as_document = attempts[0]
            media = await media_for(
                out,
                handle,
                uploader,
                as_document=as_document,
                video=functools.partial(video_facts, decoder=decoder),
                extras=extras,
                document_thumb=self._thumb_upload(uploader, decoder),
            )
            if _keeps_upload(out, alone=alone):
                ref = media  # kept and sent as it is: no uploadMedia round trip
            else:
                try:
                    result = await client(
                        functions.messages.UploadMediaRequest(peer=peer, media=media)
                    )
                except Exception as exc:
                    if isinstance(exc, _GONE) and not anew:  # a resumed upload's parts expired
                        log.info("Telegram no longer holds %s's parts (%s): anew", out.name, exc)
                        anew = True  # its record went as it returned: every part goes again
                        handle = await uploader.upload(
                            out.path, name=out.name, progress=progress, window=out.window
                        )
                        continue
                    attempts.pop(0)
                    err = from_telethon(exc)
                    if err.code != "telegram.media_rejected":
                        raise err from exc
                    log.warning("Telegram refused %s as %s: %s", out.name, out.kind, err.message)
                    last = err
                    continue
                ref = reference(result)
            family = "document" if as_document else out.family
            owner = None if member.own else member.name
            made = {(out.item.id, out.part): MediaRef(encode(ref), family, owner)}
            if fresh.at_once(took, time.monotonic(), KEEP_AT_ONCE_AFTER):
                # a crash or a lost lease must not cost this upload (or those waiting) again
                made |= fresh
                await self.state.media_put(out.item.job_id, send.album_id, made)
                for key in made:
                    fresh.pop(key, None)
            else:
                fresh.update(made)
            return _Ready(out, send, ref, family, sha256)
        await self.state.drop(send)
        log.error("Telegram refused %s in every form: %s", out.name, last)
        return None

    async def _refresh(
        self,
        member: Member,
        client: Any,
        peer: Any,
        chunk: list[_Ready],
        decoder: Decoder | None = None,
    ) -> list[_Ready]:
        """References went stale (FILE_REFERENCE_EXPIRED), or a kept upload is gone
        (FILE_PART_X_MISSING): upload again, same ``random_id``s."""
        again: list[_Ready] = []
        refs = Fresh(time.monotonic())
        for r in chunk:
            await self.state.media_forget(r.out.item.job_id, r.out.item.id, r.out.part)
            one = await self._ready(
                member,
                client,
                peer,
                r.out,
                r.send,
                None,
                refs,
                alone=len(chunk) == 1,
                decoder=decoder,
            )
            if one is not None:
                again.append(one)
        await self.state.media_put(chunk[0].send.job_id, chunk[0].send.album_id, refs)
        return again

    def _thumb_upload(
        self, uploader: Any, decoder: Decoder | None = None
    ) -> Callable[[], Awaitable[Any]] | None:
        """What uploads the job's thumbnail of documents, fitted to Telegram's limits;
        None without one. A picture gone or unreadable is logged and the document goes
        without it."""
        chosen = self.document_thumb
        if chosen is None:
            return None

        async def upload() -> Any:
            fitted = await asyncio.to_thread(fitted_thumb, chosen, decoder)
            if fitted is None:
                return None
            try:
                return await uploader.upload(fitted, name="thumb.jpg")
            finally:
                await asyncio.to_thread(_remove_dir, fitted.parent)

        return upload

    # ------------------------------------------------------------------ sends

    async def _send(
        self,
        member: Member,
        client: Any,
        peer: Any,
        peer_key: str,
        chunk: list[_Ready],
        caption: str,
        first_slot: int | None,
        note: SinkRecord | None,
        caption_limit: int,
        decoder: Decoder | None = None,
        topic: int | None = None,
        *,
        later: bool = False,
    ) -> None:
        refreshed = False
        duplicates = 0
        while chunk:
            request = self._request(peer, chunk, caption, first_slot, caption_limit, topic)
            try:
                result = await client(request)
            except tg.RandomIdDuplicateError:
                duplicates += 1  # the first send is still being processed: ask again
                if duplicates > DUPLICATE_RETRIES:
                    raise FerrymanError(
                        "telegram.server", "Telegram kept answering RANDOM_ID_DUPLICATE"
                    ) from None
                await asyncio.sleep(min(2.0**duplicates / 4, 8.0))
                continue
            except _GONE:
                if refreshed:
                    raise FerrymanError(
                        "telegram.server", "media references expired twice in a row"
                    ) from None
                refreshed = True
                chunk = await self._refresh(member, client, peer, chunk, decoder)
                continue
            except tg.TopicDeletedError as exc:
                if not self.target.by_folder or topic is None:
                    raise from_telethon(exc) from exc  # the one topic named: the user's choice
                account = None if member.own else member.name
                await self.topics.forget(chunk[0].send.job_id, topic, account)
                raise FerrymanError(  # nothing went: the retry makes the folder's topic again
                    "telegram.server", f"the forum topic {topic} was deleted; made again"
                ) from exc
            except Exception as exc:
                err = from_telethon(exc)
                if err.code != "telegram.media_rejected":
                    raise err from exc
                kept = await self._keep_valid(client, peer, chunk)
                if len(kept) == len(chunk):
                    if len(chunk) == 1:  # refused only in this chat: the file cannot go
                        await self._drop(chunk[0], err)
                        return
                    raise err from exc  # no single file is at fault: retry the album later
                chunk = kept
                continue
            captioned = any(r.send.slot == first_slot for r in chunk)
            files = self._files(result, chunk, member, peer)
            note = note if captioned else None
            await self._record(result, chunk, peer_key, note, files, later=later)
            return

    def _request(
        self,
        peer: Any,
        chunk: list[_Ready],
        caption: str,
        first_slot: int | None,
        limit: int,
        topic: int | None = None,
    ) -> Any:
        text = _fit_caption(caption, limit)
        reply_to = None
        topic = topic or self.target.topic
        if topic:
            reply_to = types.InputReplyToMessage(reply_to_msg_id=topic, top_msg_id=topic)

        def message(r: _Ready) -> str:
            return text if r.send.slot == first_slot else ""

        if len(chunk) == 1:
            r = chunk[0]
            return functions.messages.SendMediaRequest(
                peer=peer,
                media=r.media,
                message=message(r),
                random_id=r.send.random_id,
                reply_to=reply_to,
            )
        return functions.messages.SendMultiMediaRequest(
            peer=peer,
            multi_media=[
                types.InputSingleMedia(
                    media=r.media, message=message(r), random_id=r.send.random_id
                )
                for r in chunk
            ],
            reply_to=reply_to,
        )

    async def _keep_valid(self, client: Any, peer: Any, chunk: list[_Ready]) -> list[_Ready]:
        """Ask about each reference alone (no upload); drop the ones Telegram refuses."""
        kept = []
        for r in chunk:
            try:
                await client(functions.messages.UploadMediaRequest(peer=peer, media=r.media))
            except Exception as exc:
                err = from_telethon(exc)
                if err.code != "telegram.media_rejected":
                    raise err from exc
                await self._drop(r, err)
                continue
            kept.append(r)
        return kept

    async def _drop(self, r: _Ready, err: FerrymanError) -> None:
        log.error("Telegram refused %s in this album: %s", r.out.name, err.message)
        await self.state.drop(r.send)

    def _files(
        self, result: Any, chunk: list[_Ready], member: Member, peer: Any
    ) -> Callable[[dict[int, int]], list[SinkRecord]]:
        """What a link served from Telegram needs of each document just sent
        (``sinks/telegram_files``), kept with the sends."""
        return lambda ids: file_records(
            [
                (r.out.item.id, r.out.part, ids[r.send.slot], r.out.name, joined_name(r.out.item))
                for r in chunk
            ],
            documents_of(result),
            chat=str(self.target.chat) if self.target is not None else "me",
            channel=isinstance(peer, types.InputPeerChannel),
            account=None if member.own else member.name,
        )

    async def _record(
        self,
        result: Any,
        chunk: list[_Ready],
        peer_key: str,
        note: SinkRecord | None = None,
        files: Callable[[dict[int, int]], list[SinkRecord]] | None = None,
        *,
        later: bool = False,
    ) -> None:
        ids = {
            u.random_id: u.id
            for u in getattr(result, "updates", [])
            if isinstance(u, types.UpdateMessageID)
        }
        found = {r.send.slot: ids[r.send.random_id] for r in chunk if r.send.random_id in ids}
        if len(found) != len(chunk):
            raise FerrymanError(
                "telegram.server", "Telegram's answer did not name every message sent"
            )
        extra = files(found) if files is not None else []
        await self.state.sent([r.send for r in chunk], found, peer_key, note, extra, later=later)


def _same_account(sends: list[PlannedSend], member: Member) -> None:
    """A send that may have gone is repeated only by its own account: Telegram knows a
    ``random_id`` per account (the pool lost the account that tried it: logged out)."""
    mine = None if member.own else member.name
    other = next((s.account for s in sends if s.bound and s.account != mine), None)
    if other is not None:
        raise FerrymanError(
            "telegram.not_logged_in",
            f"the album was begun through the account {other}, which is not in the pool"
            f" now: `ferryman telegram login --as {other}`",
        )


def _raise_login_error(login: asyncio.Future[None], exc: Exception) -> None:
    """The login check's error, if it failed: it says what to do (log in again), where
    a part or a lookup refused for the same reason would not."""
    if login.done() and not login.cancelled() and (error := login.exception()) is not None:
        raise error from exc


def _keeps_upload(out: Outgoing, *, alone: bool) -> bool:
    """Whether the file's upload itself is kept as its reference, without ``uploadMedia``:
    a document sent alone goes by ``sendMedia``, which takes an upload as it is (one
    round trip fewer after the last part; ``sendMultiMedia`` takes only references).
    The upload is kept as a reference would be (at once if it was costly), so a crash
    or a wait before the send does not cost it again; Telegram keeps an upload's parts
    for less than a day, and a send that finds them gone uploads the file again (the
    same ``random_id``: a repeat of a send that went out posts nothing). A photo or a
    video still goes through ``uploadMedia``: its refusal as media is met there, and it
    is sent as a document instead."""
    return alone and out.kind == "document"


def _countdown(count: int, then: Callable[[], None]) -> Callable[[], None]:
    """Call ``then`` on the ``count``-th call."""
    left = [count]

    def one() -> None:
        left[0] -= 1
        if left[0] == 0:
            then()

    return one


def _sizes(files: list[Outgoing]) -> dict[int, int]:
    """Blocking: each file's size, by slot."""
    return {f.slot: f.size() for f in files}


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A read nobody awaited (a wait raised first) may have failed: not logged unseen."""
    if not future.cancelled():
        future.exception()


def _once(then: Callable[[], None]) -> Callable[[], None]:
    """``then``, on the first call only."""
    called = [False]

    def first() -> None:
        if not called[0]:
            called[0] = True
            then()

    return first


def _hashes(ready: list[_Ready]) -> dict[int, str]:
    return {r.out.item.id: r.sha256 for r in ready if r.sha256 is not None}


async def _at_most(limit: int, calls: list[Callable[[], Awaitable[_T]]]) -> list[_T]:
    """Run ``calls`` with at most ``limit`` under way; their results in the same order.

    The first failure (a ``TelegramWait`` among them) cancels the others, waits until they
    have stopped, and is raised as itself.
    """
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[_T]]) -> _T:
        async with gate:
            return await call()

    tasks = [asyncio.create_task(one(c)) for c in calls]
    try:
        pending: set[asyncio.Task[_T]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:  # in album order, so the same file's error wins each time
                if task in done and (error := task.exception()) is not None:
                    raise error
        return [t.result() for t in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _chunks(ready: list[_Ready], topics: dict[int, int] | None = None) -> list[list[_Ready]]:
    """Messages of at most ten, one family (and one forum topic: ``topics``, by slot)
    each; a file that fell back to a document leaves its album whole instead of cutting
    it in two."""
    families: dict[tuple[int | None, str], list[_Ready]] = {}
    for r in ready:
        topic = topics.get(r.send.slot) if topics else None
        families.setdefault((topic, r.family), []).append(r)
    return [
        members[i : i + ALBUM_MAX]
        for members in families.values()
        for i in range(0, len(members), ALBUM_MAX)
    ]


def _remove_dir(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _fit_caption(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _peer_key(peer: Any) -> str:
    for attr in ("channel_id", "user_id", "chat_id"):
        value = getattr(peer, attr, None)
        if value is not None:
            return str(value)
    return "self"


__all__ = ["TelegramSink"]
