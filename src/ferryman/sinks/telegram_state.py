"""What the Telegram sink keeps, as records of its ``SinkState`` (its only way to the store).

Per job, two kinds of record:

- ``send:<album>:<slot>`` (of the album and the item): one message of an album, the
  file it carries, its ``random_id``, ``pending`` | ``sent`` | ``dropped`` and the
  message id Telegram made. Written before the first send; a repeat after a crash sends
  with the same ``random_id``s and Telegram answers with the first send's messages.
- ``media:<item>:<part>`` (of the item, and of its album since 2026-11-25): the file's
  media reference from ``messages.uploadMedia`` and its family, so a repeat never
  uploads again. An album's references are kept in one transaction, and read with its
  sends in one statement (per file, they were ten commits and ten reads an album).

Waits Telegram imposed are the state's waits, scoped ``account`` or ``peer:<id>``.
Schema step 10 carried the rows of the old ``tg_sends``, ``tg_media`` and ``tg_waits``
tables into these shapes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ferryman.model import SinkRecord, SinkWrite
from ferryman.sinks.base import Delivery, SinkState

SCHEME = "telegram"
SEND_STATES = ("pending", "sent", "dropped")


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """One message of an album: which file, under which ``random_id``, and what came of it."""

    job_id: int
    album_id: int
    slot: int
    item_id: int
    part: int
    random_id: int
    state: str  # one of SEND_STATES
    message_id: int | None
    peer: str | None = None
    # The pool's account its album goes through (None: the own one, as before pools) and
    # whether a send of it may have reached Telegram: ``False`` while none was tried (the
    # album may still move to another account), ``None`` when unknown (one account: never
    # moved). Telegram knows a ``random_id`` per account, so a send tried stays with it.
    account: str | None = None
    tried: bool | None = None

    @property
    def bound(self) -> bool:
        """Whether the album must go through its account: a send may have gone."""
        return self.tried is not False or self.state != "pending"


@dataclass(frozen=True, slots=True)
class OpenCaption:
    """An album's caption sent before its job's number of albums was known."""

    seq: int
    items: int
    caption: str
    message_id: int | None  # the captioned message: the album's first sent
    account: str | None = None  # who sent it (only its sender edits it)
    fields: dict[str, str] = field(default_factory=dict)  # its photo fields, as sent


@dataclass(frozen=True, slots=True)
class MediaRef:
    media: str  # base64 of the TL InputMedia
    family: str  # visual | document | audio
    account: str | None = None  # whose upload (None: the own account's)


@dataclass(frozen=True, slots=True)
class AlbumRecords:
    """An album's sends as stored (by slot) and its files' media references."""

    sends: list[PlannedSend]
    media: dict[tuple[int, int], MediaRef]  # (item, part) → reference


class Fresh(dict[tuple[int, int], MediaRef]):
    """An album's references made and not kept yet (kept with its others at the album's
    end, in one transaction), and when some were last kept before that (``kept_at``)."""

    def __init__(self, began: float) -> None:
        super().__init__()
        self.kept_at = began

    def at_once(self, took: float, now: float, after: float) -> bool:
        """Whether a reference whose upload took ``took`` seconds is kept now, with those
        waiting: it took ``after`` or more and none were kept for ``after``, or it took
        four times that. Ten photos sharing a capped account each take seconds and end
        together: kept so, each was a transaction (ten an album, 2026-11-29)."""
        if took < after or (now - self.kept_at < after and took < 4 * after):
            return False
        self.kept_at = now
        return True


def new_random_id() -> int:
    """A nonzero signed 64-bit id, as MTProto's ``random_id`` is."""
    while True:
        value = secrets.randbits(64) - 2**63
        if value:
            return value


class TelegramState:
    """The Telegram sink's records and waits, on the ``SinkState`` it was given."""

    def __init__(self, state: SinkState) -> None:
        self.state = state
        # An album's sends as this object last planned, read or wrote them (by job and
        # album, then slot): what ``sends_now`` answers without reading them back.
        self._known: dict[tuple[int, int], dict[int, PlannedSend]] = {}
        # An album's records left to its record of delivery (``sent(later=True)``).
        self._later: dict[tuple[int, int], list[SinkRecord]] = {}

    def _knew(self, sends: Sequence[PlannedSend], *, whole: bool = False) -> None:
        for s in sends:
            key = (s.job_id, s.album_id)
            if whole:
                self._known[key] = {}
                whole = False
            self._known.setdefault(key, {})[s.slot] = s

    # ------------------------------------------------------------------ sends

    async def plan_sends(
        self,
        job_id: int,
        album_id: int,
        slots: Sequence[tuple[int, int]],
        stored: Sequence[PlannedSend] = (),
        *,
        account: str | None = None,
        pooled: bool = False,
    ) -> list[PlannedSend]:
        """The album's sends, a ``random_id`` chosen once for each (item, part) slot.
        ``stored``: its sends as just read; when they cover every slot (the album was
        planned before: prepared ahead, or a repeat) nothing is written. ``account``: the
        pool's account it goes through (None: the own one); ``pooled``: the pool has
        others, so the sends say whether one was tried (an album none was tried for moves
        to ``account``, its ``random_id``s kept: no account used them)."""
        known = {s.slot: s for s in stored}
        if all(slot in known for slot in range(len(slots))):
            sends = [known[slot] for slot in range(len(slots))]
            moved = [s for s in sends if s.account != account and not s.bound]
            if moved:
                records = [_send_record(replace(s, account=account)) for s in moved]
                await self.state.put(job_id, records)
                sends = [s if s.bound else replace(s, account=account) for s in sends]
            self._knew(sends, whole=True)
            return sends
        tried = False if pooled else None
        planned = [
            _send_record(
                PlannedSend(
                    job_id,
                    album_id,
                    slot,
                    item_id,
                    part,
                    new_random_id(),
                    "pending",
                    None,
                    account=account,
                    tried=tried,
                )
            )
            for slot, (item_id, part) in enumerate(slots)
        ]
        claimed = [_send(job_id, r) for r in await self.state.claim(job_id, planned)]
        self._knew(claimed, whole=True)
        return claimed

    async def mark_tried(self, sends: Sequence[PlannedSend], tried: bool = True) -> None:
        """Before an album's first send through a pool (``tried``), or after Telegram
        refused the only one tried (not ``tried``: it may move to another account)."""
        changed = [
            replace(s, tried=tried) for s in sends if s.tried is not None and s.tried != tried
        ]
        if changed:
            await self.state.put(changed[0].job_id, [_send_record(s) for s in changed])
            self._knew(changed)

    async def album(self, job_id: int, album_id: int) -> AlbumRecords:
        """The album's sends and its files' media references, in one read. A pending
        send whose reference is not among the album's records is looked up by its item
        (one kept before references named their album)."""
        found = await self.state.records(job_id, album_id=album_id)
        sends = sorted(
            (_send(job_id, r) for r in found if r.key.startswith("send:")), key=lambda s: s.slot
        )
        media = {
            (r.item_id, int(r.value["part"])): _media_ref(r)
            for r in found
            if r.key.startswith("media:") and r.item_id is not None
        }
        for s in sends:
            if s.state == "pending" and (s.item_id, s.part) not in media:
                ref = (await self.media(job_id, s.item_id)).get(s.part)
                if ref is not None:
                    media[s.item_id, s.part] = ref
        return AlbumRecords(sends, media)

    async def sends(self, job_id: int, album_id: int) -> list[PlannedSend]:
        """The album's sends as stored, by slot."""
        found = await self.state.records(job_id, album_id=album_id)
        sends = [_send(job_id, r) for r in found if r.key.startswith("send:")]
        return sorted(sends, key=lambda s: s.slot)

    async def sends_now(self, job_id: int, album_id: int) -> list[PlannedSend]:
        """The album's sends as stored, by slot: as this object planned (or read) them
        and then recorded them sent or dropped, without reading them back (a hop of the
        store's after each album's send); read when it planned none of them."""
        known = self._known.get((job_id, album_id))
        if not known:
            return await self.sends(job_id, album_id)
        return [known[slot] for slot in sorted(known)]

    async def sent(
        self,
        sends: Sequence[PlannedSend],
        message_ids: Mapping[int, int],
        peer: str,
        note: SinkRecord | None = None,
        files: Sequence[SinkRecord] = (),
        *,
        later: bool = False,
    ) -> None:
        """Record the messages Telegram made, by slot, in one transaction (with ``note``:
        a caption to make final, ``caption_note``; ``files``: what a link served from
        Telegram needs of them, ``sinks/telegram_files``). ``later``: the album's last
        send, recorded with the album's delivery instead (``kept``): a repeat after a
        crash before it sends again with the same ``random_id``s, and Telegram answers
        with these messages, to be recorded then."""
        if not sends:
            return
        done = [replace(s, state="sent", message_id=message_ids[s.slot], peer=peer) for s in sends]
        records = [*(_send_record(s) for s in done), *([note] if note else []), *files]
        if later:
            self._later.setdefault((sends[0].job_id, sends[0].album_id), []).extend(records)
        else:
            await self.state.put(sends[0].job_id, records)
        self._knew(done)

    def kept(self, job_id: int, album_id: int) -> SinkWrite | None:
        """The album's records left to its record of delivery (``sent(later=True)``),
        handed over once."""
        records = self._later.pop((job_id, album_id), None)
        return SinkWrite(self.state.sink, job_id, tuple(records)) if records else None

    async def drop(self, send: PlannedSend) -> None:
        """Telegram refused this file in any form: the album goes on without it, and its
        media reference (if one was made) goes with it."""
        dropped = replace(send, state="dropped")
        await self.state.put(
            send.job_id, [_send_record(dropped)], forget=[_media_key(send.item_id, send.part)]
        )
        self._knew([dropped])

    async def messages(self, job_id: int, item_id: int) -> list[int]:
        """The message ids an item became (several for a split video)."""
        found = await self.state.records(job_id, item_id=item_id)
        sends = [_send(job_id, r) for r in found if r.key.startswith("send:")]
        sent = sorted((s for s in sends if s.state == "sent"), key=lambda s: s.part)
        return [s.message_id for s in sent if s.message_id is not None]

    # ------------------------------------------------------------------ media

    async def media(self, job_id: int, item_id: int) -> dict[int, MediaRef]:
        """The item's media references, by part."""
        found = await self.state.records(job_id, item_id=item_id)
        return {int(r.value["part"]): _media_ref(r) for r in found if r.key.startswith("media:")}

    async def media_put(
        self, job_id: int, album_id: int | None, refs: Mapping[tuple[int, int], MediaRef]
    ) -> None:
        """Keep the references of files just turned into media, by (item, part), in one
        transaction: an album's worth at once, not a commit per file."""
        if not refs:
            return
        records = [
            SinkRecord(
                _media_key(item_id, part),
                {"part": part, "media": ref.media, "family": ref.family}
                | ({} if ref.account is None else {"account": ref.account}),
                album_id,
                item_id,
            )
            for (item_id, part), ref in refs.items()
        ]
        await self.state.put(job_id, records)

    async def media_forget(self, job_id: int, item_id: int, part: int) -> None:
        await self.state.put(job_id, forget=[_media_key(item_id, part)])

    # ------------------------------------------------------------------ waits

    # ------------------------------------------------------------- captions

    async def captions_open(self, job_id: int) -> dict[int, OpenCaption]:
        """Album id → each caption not made final yet, with its message, in one read."""
        found = await self.state.records(job_id)
        sent = sorted(
            (s for r in found if r.key.startswith("send:") for s in [_send(job_id, r)]),
            key=lambda s: s.slot,
        )
        return {
            r.album_id: OpenCaption(
                int(r.value["seq"]),
                int(r.value["items"]),
                str(r.value["caption"]),
                next(
                    (s.message_id for s in sent if s.album_id == r.album_id and s.state == "sent"),
                    None,
                ),
                next(
                    (s.account for s in sent if s.album_id == r.album_id and s.state == "sent"),
                    None,
                ),
                {str(k): str(v) for k, v in dict(r.value.get("fields") or {}).items()},
            )
            for r in found
            if r.key.startswith("caption:") and r.album_id is not None
        }

    async def captions_closed(self, job_id: int, album_ids: Sequence[int]) -> None:
        await self.state.put(job_id, forget=[f"caption:{a}" for a in album_ids])

    async def wait_until(self, scopes: Sequence[str]) -> float:
        return await self.state.wait_until(scopes)

    async def wait_set(self, scope: str, not_before: float, reason: str) -> None:
        await self.state.set_wait(scope, not_before, reason)


def caption_note(delivery: Delivery) -> SinkRecord:
    """The album goes out with a caption whose number of albums is not final ("1/3+"):
    kept with its sent messages, so the job's end can edit it (``captions_open``)."""
    album = delivery.album
    value: dict[str, Any] = {
        "seq": album.seq,
        "items": len(album.items),
        "caption": delivery.caption,
    }
    if delivery.caption_fields:
        value["fields"] = dict(delivery.caption_fields)
    return SinkRecord(f"caption:{album.id}", value, album.id)


def _media_key(item_id: int, part: int) -> str:
    return f"media:{item_id}:{part}"


def _media_ref(record: SinkRecord) -> MediaRef:
    account = record.value.get("account")
    return MediaRef(
        str(record.value["media"]),
        str(record.value["family"]),
        None if account is None else str(account),
    )


def _send_record(send: PlannedSend) -> SinkRecord:
    value: dict[str, Any] = {
        "slot": send.slot,
        "item_id": send.item_id,
        "part": send.part,
        "random_id": send.random_id,
        "state": send.state,
        "message_id": send.message_id,
        "peer": send.peer,
    }
    if send.account is not None:
        value["account"] = send.account
    if send.tried is not None:
        value["tried"] = send.tried
    return SinkRecord(f"send:{send.album_id}:{send.slot}", value, send.album_id, send.item_id)


def _send(job_id: int, record: SinkRecord) -> PlannedSend:
    v = record.value
    if record.album_id is None or v["state"] not in SEND_STATES:
        raise ValueError(f"not a Telegram send record: {record}")
    return PlannedSend(
        job_id,
        record.album_id,
        int(v["slot"]),
        int(v["item_id"]),
        int(v["part"]),
        int(v["random_id"]),
        str(v["state"]),
        None if v["message_id"] is None else int(v["message_id"]),
        v.get("peer"),
        v.get("account"),
        v.get("tried"),
    )


def send_of(job_id: int, record: SinkRecord) -> PlannedSend:
    """A ``send:<album>:<slot>`` record as the send it is (``ValueError`` if not one)."""
    return _send(job_id, record)
