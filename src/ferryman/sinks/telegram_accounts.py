"""Which account of the pool (``telegram/accounts``) an album goes through, and when an
account gives way to the others.

Telegram knows a ``random_id`` per account: the same id sent by two accounts posts twice.
So an album stays with the account its sends were tried through (its send records name
it, ``sinks/telegram_state``), and may move only while none was: the sink marks them
tried, in one write, just before the first send. An account that is refused (not an admin,
banned, logged out) or must wait (a flood wait, slow mode) before that gives way: the
album goes through another, uploaded again there (an upload is the account's own).
One account: nothing of this is written or asked, the album goes as before pools.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from telethon.tl import types

from ferryman.errors import FerrymanError
from ferryman.media.policy import MIB
from ferryman.sinks.base import Delivery
from ferryman.sinks.telegram_state import MediaRef, PlannedSend, TelegramState
from ferryman.telegram.accounts import AccountPool, Member, Ticket
from ferryman.telegram.early_pool import holder
from ferryman.telegram.errors import TelegramWait, from_telethon

log = logging.getLogger(__name__)

REFUSED_SECONDS = 600.0  # an account refused in a chat is not asked there again for this long
# What an account's refusal says: another account of the pool may still be let in.
GIVES_WAY = frozenset(
    {
        "telegram.write_forbidden",
        "telegram.peer_invalid",
        "telegram.session_revoked",
        "telegram.not_logged_in",
        "telegram.banned",
    }
)


@dataclass(slots=True)
class Attempt:
    """One album through one account: what it planned, and whether it marked the sends."""

    member: Member
    state: TelegramState
    chat: str
    pooled: bool
    sends: list[PlannedSend] = field(default_factory=list)  # as planned (set by the sink)
    marked: bool = False  # this attempt was the first to try its sends
    pool: AccountPool | None = None  # set: the pool handed it its account (``take``)
    ticket: Ticket | None = None  # what it was handed for

    async def turn(self) -> None:
        """Its account's albums handed before it uploaded first (``AccountPool.turn``)."""
        if self.pool is not None and self.ticket is not None:
            await self.pool.turn(self.member, self.ticket)

    def release(self) -> None:
        """Its uploads ended (or it failed first): the account takes its next album."""
        if self.pool is not None and self.ticket is not None:
            pool, self.pool = self.pool, None
            pool.release(self.member, self.ticket)

    async def check_rights(self, pool: AccountPool, client: object, peer: object) -> None:
        """The account may post in the chat (asked once per account and chat): a
        broadcast channel's admin with the right to post, a group's member not banned
        from sending media; a private chat is the own account's alone."""
        m = self.member
        if isinstance(peer, types.InputPeerSelf | types.InputPeerUser):
            pool.own_chats.add(self.chat)  # its next albums: the own account only
        allowed = m.may_post.get(self.chat)
        if allowed is None:
            allowed = await may_post(client, peer, own=m.own)
            m.may_post[self.chat] = allowed
        if not allowed:
            raise FerrymanError(
                "telegram.write_forbidden", f"the account {m.name} may not post in {self.chat}"
            )

    async def before_send(self) -> None:
        """Sends planned through a pool are marked tried before the first goes, even if
        the pool is one account now (a logout): one that joins later must not take them
        over. Sends planned for one account (``tried`` None) are bound already."""
        fresh = [s for s in self.sends if s.tried is False and s.state == "pending"]
        if fresh:
            await self.state.mark_tried(fresh)
            self.marked = len(fresh) == len(self.sends)


async def may_post(client: object, peer: object, *, own: bool) -> bool:
    if isinstance(peer, types.InputPeerSelf | types.InputPeerUser):
        return own  # another account's "me" or private chat is another chat
    if not isinstance(peer, types.InputPeerChannel):
        return True  # a basic group: any member posts
    try:
        entity = await client.get_entity(peer)  # type: ignore[attr-defined]
    except Exception as exc:
        raise from_telethon(exc) from exc
    if getattr(entity, "creator", False):
        return True
    rights = getattr(entity, "admin_rights", None)
    if getattr(entity, "broadcast", False):
        return bool(rights is not None and rights.post_messages)
    if getattr(entity, "left", False):
        return False
    if rights is not None:
        return True
    banned = [getattr(entity, n, None) for n in ("banned_rights", "default_banned_rights")]
    return not any(b is not None and (b.send_messages or b.send_media) for b in banned)


def mine(ref: MediaRef | None, member: Member) -> MediaRef | None:
    """A stored reference this account may send: its own upload's."""
    if ref is None:
        return None
    owner = ref.account
    return ref if owner == member.name or (owner is None and member.own) else None


def biggest_whole(delivery: Delivery) -> int:
    """The album's biggest file sent whole (not split): an account whose limit it is over
    may not send the album (a file over a free account's limit is kept whole for a
    Premium account of the pool)."""
    return max((item.size for item in delivery.album.items if not item.parts), default=0)


async def choose(
    pool: AccountPool,
    state: TelegramState,
    delivery: Delivery,
    chat: str,
    given_way: set[str],
    now: float,
    last: FerrymanError | None = None,
) -> Attempt:
    """The account for this album: the one its tried sends name; else one not given
    way, allowed in the chat, not waiting, with Premium if a file needs it (preferred for
    a long caption), the fewest albums under way, the pool's order. None fits: the
    soonest wait as a ``TelegramWait``, else ``last`` (the refusal that left none)."""
    if not pool.several:
        return Attempt(pool.own, state, chat, pooled=False)
    job_id, album_id = delivery.job.id, delivery.album.id
    sends = await state.sends(job_id, album_id)
    bound = next((s for s in sends if s.bound), None)
    if bound is not None:
        member = pool.member(bound.account)
        if member is None:
            raise FerrymanError(
                "telegram.not_logged_in",
                f"album {delivery.album.seq} was begun through the account {bound.account},"
                " which is not logged in now (its messages are known to Telegram by that"
                f" account): `ferryman telegram login --as {bound.account}`",
            )
        return Attempt(member, state, chat, pooled=True)
    if chat in pool.own_chats:  # ``me``, a private chat: the own account's alone
        return Attempt(pool.own, state, chat, pooled=False)
    biggest = biggest_whole(delivery)
    premium = any(biggest > m.file_bytes for m in pool.members)  # not every account may
    long_caption = any(len(delivery.caption) > m.caption_limit for m in pool.members)
    able = [m for m in pool.members if m.allowed(chat) and biggest <= m.file_bytes]
    if not able:
        if last is not None:
            raise last
        said = f"no account of the pool may post this album in {chat}"
        if all(biggest > m.file_bytes for m in pool.members):
            raise FerrymanError(
                "media.over_limit",
                f"{said}: a file of {biggest / MIB:,.1f} MiB is over every account's limit"
                f" ({max(m.file_bytes for m in pool.members) / MIB:,.0f} MiB); an account with"
                " Premium may send it (`ferryman telegram login --as NAME`)",
            )
        raise FerrymanError("telegram.write_forbidden", said)
    waits = {m.name: await _waits_until(state, m) for m in able}
    free = [m for m in able if m.name not in given_way and waits[m.name] <= now]
    if not free:
        refused = last is not None and not isinstance(last, TelegramWait)
        if last is not None and refused and all(m.name in given_way for m in able):
            raise last
        soonest = min(waits.values())
        left = max(1, math.ceil(soonest - now))
        if isinstance(last, TelegramWait) and soonest <= now:
            raise last
        raise TelegramWait(
            "telegram.flood_wait", f"every account of the pool waits: {left} s", left
        )
    planned = next((m for m in free if sends and sends[0].account == _name(m)), None)
    if planned is not None:  # prepared ahead through it: its uploads are there
        return Attempt(planned, state, chat, pooled=True)
    ahead = holder([Path(p) for item in delivery.album.items for p in item.files], free)
    if ahead is not None:  # a file uploaded through it while staged: taken, not again
        return Attempt(ahead, state, chat, pooled=True)
    if premium or long_caption:
        order = {m.name: i for i, m in enumerate(pool.members)}
        member = min(
            free,
            key=lambda m: (
                m.busy,
                len(delivery.caption) > m.caption_limit,  # one whose limit it fits
                m.premium != long_caption,
                order[m.name],
            ),
        )
        return Attempt(member, state, chat, pooled=True)
    size = sum(item.size for item in delivery.album.items)
    ticket = Ticket((job_id, delivery.album.seq), size, frozenset(m.name for m in free))
    member = await pool.take(ticket)
    return Attempt(member, state, chat, pooled=True, pool=pool, ticket=ticket)


async def gives_way(
    pool: AccountPool,
    state: TelegramState,
    attempt: Attempt,
    chat: str,
    error: FerrymanError,
) -> bool:
    """Whether the album may go through another account after ``error``: an account's
    wait or refusal, while no send of the album may have reached Telegram through it
    (a send it refused itself, when it was the first tried, counts as none)."""
    if not attempt.pooled or not pool.several:
        return False
    waits = isinstance(error, TelegramWait)
    if not waits and error.code not in GIVES_WAY:
        return False
    member = attempt.member
    sends = attempt.sends
    if sends:
        stored = await state.sends(sends[0].job_id, sends[0].album_id)
        if any(s.state == "sent" for s in stored):
            return False
        tried = [s for s in stored if s.tried is not False]
        if tried and not attempt.marked:
            return False  # tried before this attempt: it may have gone unanswered
        if tried:
            await state.mark_tried(tried, tried=False)  # refused: nothing went
    if not waits:
        member.refuse(chat, REFUSED_SECONDS)
        member.may_post.pop(chat, None)  # asked again once the refusal is over
    member.figures.refused += 1
    log.warning("the account %s gives way for %s: %s", member.name, chat, error.message)
    return True


def _name(member: Member) -> str | None:
    """The account as send records name it (None: the own one)."""
    return None if member.own else member.name


async def _waits_until(state: TelegramState, member: Member) -> float:
    """When the account's wait ends: read from the store once (a wait from before a
    restart), then as this engine records them (``Figures.waiting_until``); the sink
    still asks the store before the account's first request of each album."""
    if not member.waits_read:
        stored = await state.wait_until([member.scope("account")])
        member.figures.waiting_until = max(member.figures.waiting_until, stored)
        member.waits_read = True
    return member.figures.waiting_until
