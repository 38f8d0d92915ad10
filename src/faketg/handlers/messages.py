"""Sending, editing and reading messages, with albums and ``random_id`` semantics.

Enforced: at most 10 items in an album; documents and audio never mixed with photos and
videos; ``sendMultiMedia`` takes only media references (``uploadMedia`` first); caption
length (1024, 2048 with Premium); slow mode; posting rights; forum topics. A repeated
``random_id`` returns the messages of the first send and sends nothing new; one whose
first send is still being processed answers ``RANDOM_ID_DUPLICATE``.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.handlers.uploads import stored_media
from faketg.sender import RpcFault
from faketg.state import Account, StoredMedia, StoredMessage
from faketg.tl import entities_for, message_tl, resolve_peer

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

ALBUM_MAX = 10


def album_class(media: StoredMedia) -> str:
    """Telegram's album families: visual (photo, inline video), audio, document."""
    if media.kind == "photo":
        return "visual"
    if any(isinstance(a, types.DocumentAttributeAudio) and not a.voice for a in media.attributes):
        return "audio"
    if any(isinstance(a, types.DocumentAttributeVideo) for a in media.attributes):
        return "visual"
    return "document"


def _topic(
    server: FakeTelegram, peer: tuple[str, int], reply_to: Any
) -> tuple[int | None, int | None]:
    if reply_to is None:
        return None, None
    if not isinstance(reply_to, types.InputReplyToMessage):
        raise RpcFault(400, "REPLY_TO_INVALID")
    top = reply_to.top_msg_id or None
    if peer[0] == "channel":
        ch = server.channels[peer[1]]
        if ch.forum:
            topic = top or reply_to.reply_to_msg_id
            if topic in ch.deleted_topics:
                raise RpcFault(400, "TOPIC_DELETED")
            if topic not in ch.topics:
                raise RpcFault(400, "TOPIC_ID_INVALID")
            return topic, reply_to.reply_to_msg_id
    return None, reply_to.reply_to_msg_id


def _slowmode(server: FakeTelegram, call: Call, peer: tuple[str, int]) -> None:
    if peer[0] != "channel":
        return
    ch = server.channels[peer[1]]
    me = call.me()
    if ch.slowmode_seconds <= 0 or me.id in ch.admins:
        return
    now = server.clock()
    last = server.box("channel", ch.id).messages
    mine = [m.date for m in last if m.from_id == me.id]
    if mine and now - mine[-1] < ch.slowmode_seconds:
        raise RpcFault(420, f"SLOWMODE_WAIT_{int(mine[-1] + ch.slowmode_seconds - now) + 1}")


def _caption(call: Call, server: FakeTelegram, text: str) -> None:
    limit = server.caption_limit_premium if call.me().premium else server.caption_limit
    if len(text) > limit:
        raise RpcFault(400, "MEDIA_CAPTION_TOO_LONG")


def post_as(
    server: FakeTelegram,
    me: Account,
    peer: tuple[str, int],
    entries: list[tuple[str, StoredMedia | None, int | None]],
    *,
    grouped: bool,
    topic: int | None,
    reply_to: int | None,
    markup: Any = None,
) -> list[tuple[StoredMessage, int]]:
    """Store new messages in every box that sees them; push updates to the other side.

    Returns each message (the sender's copy) with the pts it got in the sender's box.
    ``me`` needs no connection: a person in a test (see ``people``) posts this way too.
    """
    now = int(server.clock())
    grouped_id = server.new_id() if grouped and len(entries) > 1 else None
    out: list[tuple[StoredMessage, int]] = []
    kind, pid = peer
    owner_box = server.box("channel", pid) if kind == "channel" else server.box("user", me.id)
    for text, media, random_id in entries:
        msg = StoredMessage(
            id=owner_box.next_id,
            peer=peer,
            from_id=me.id,
            date=now,
            text=text,
            media=media,
            grouped_id=grouped_id,
            random_id=random_id,
            topic_id=topic,
            out=True,
            reply_to=reply_to,
            reply_markup=markup if me.bot else None,  # a user account's markup is dropped
        )
        owner_box.next_id += 1
        owner_box.pts += 1
        owner_box.messages.append(msg)
        update_cls = types.UpdateNewChannelMessage if kind == "channel" else types.UpdateNewMessage
        owner_box.updates.append(
            (owner_box.pts, update_cls(message_tl(server, msg), owner_box.pts, 1))
        )
        out.append((msg, owner_box.pts))
        if kind == "user" and pid != me.id:
            _deliver_private(server, me.id, pid, msg)
    return out


def _deliver_private(server: FakeTelegram, sender_id: int, to: int, msg: StoredMessage) -> None:
    box = server.box("user", to)
    mine = server.box("user", sender_id).messages
    replied = next((m.twin for m in mine if msg.reply_to and m.id == msg.reply_to), None)
    copy = StoredMessage(
        id=box.next_id,
        peer=("user", sender_id),
        from_id=sender_id,
        date=msg.date,
        text=msg.text,
        media=msg.media,
        grouped_id=msg.grouped_id,
        out=False,
        reply_to=replied,  # the same message as this box numbers it
        reply_markup=msg.reply_markup,
        twin=msg.id,
    )
    msg.twin = copy.id
    box.next_id += 1
    box.pts += 1
    box.messages.append(copy)
    update = types.UpdateNewMessage(message_tl(server, copy), box.pts, 1)
    box.updates.append((box.pts, update))
    viewer = server.accounts[to]
    users, chats = entities_for(server, [("user", sender_id)], viewer)
    server.push(to, types.Updates([update], users, chats, _date(server), 0))


def _date(server: FakeTelegram) -> Any:
    from faketg.tl import when

    return when(server.clock())


def _updates(
    server: FakeTelegram, call: Call, peer: tuple[str, int], sent: list[tuple[StoredMessage, int]]
) -> Any:
    ups: list[Any] = []
    for msg, _pts in sent:
        if msg.random_id is not None:
            ups.append(types.UpdateMessageID(id=msg.id, random_id=msg.random_id))
    for msg, pts in sent:
        cls = types.UpdateNewChannelMessage if peer[0] == "channel" else types.UpdateNewMessage
        ups.append(cls(message_tl(server, msg), pts, 1))
    users, chats = entities_for(server, [peer], call.account)
    return types.Updates(ups, users, chats, _date(server), 0)


def _replay(
    server: FakeTelegram, call: Call, peer: tuple[str, int], random_ids: list[int]
) -> Any | None:
    """The first send's answer when every ``random_id`` was used before; None if none was."""
    me = call.me()
    keys = [(me.id, r) for r in random_ids]
    if any(k in server.in_progress_random for k in keys):
        raise RpcFault(400, "RANDOM_ID_DUPLICATE")
    known = [k in server.sent_random for k in keys]
    if not any(known):
        return None
    if not all(known):
        raise RpcFault(400, "RANDOM_ID_DUPLICATE")
    box = server.box("channel", peer[1]) if peer[0] == "channel" else server.box("user", me.id)
    ids = {i for k in keys for i in server.sent_random[k]}
    pts = {u.message.id: p for p, u in box.updates if hasattr(u, "message") and u.message.id in ids}
    msgs = [(m, pts.get(m.id, box.pts)) for m in box.messages if m.id in ids]
    return _updates(server, call, peer, msgs)


async def _send(
    server: FakeTelegram,
    call: Call,
    req: Any,
    items: list[tuple[Any, str, int]],
    *,
    album: bool,
) -> Any:
    peer = resolve_peer(server, call, req.peer, write=True)
    random_ids = [r for _m, _t, r in items]
    if any(not r for r in random_ids) or len(set(random_ids)) != len(random_ids):
        raise RpcFault(400, "RANDOM_ID_INVALID")
    replay = _replay(server, call, peer, random_ids)
    if replay is not None:
        return replay
    topic, reply_to = _topic(server, peer, getattr(req, "reply_to", None))
    _slowmode(server, call, peer)
    me = call.me()
    keys = [(me.id, r) for r in random_ids]
    server.in_progress_random.update(keys)
    try:
        entries: list[tuple[str, StoredMedia | None, int | None]] = []
        for media, text, rid in items:
            if media is not None:  # a text message's 4096 is send_message's check
                _caption(call, server, text)
            stored = None
            if media is not None:
                if album and not isinstance(
                    media, types.InputMediaPhoto | types.InputMediaDocument
                ):
                    raise RpcFault(400, "MEDIA_INVALID")
                stored = stored_media(server, call, media)
            entries.append((text, stored, rid))
        if album:
            families = {album_class(m) for _t, m, _r in entries if m is not None}
            if len(families) > 1:
                raise RpcFault(400, "MEDIA_INVALID")
        delay = server.processing_delay.get(type(req))
        if delay:
            await asyncio.sleep(delay)
        sent = post_as(
            server,
            call.me(),
            peer,
            entries,
            grouped=album,
            topic=topic,
            reply_to=reply_to,
            markup=getattr(req, "reply_markup", None),
        )
        for (msg, _pts), key in zip(sent, keys, strict=True):
            server.sent_random[key] = [msg.id]
    finally:
        server.in_progress_random.difference_update(keys)
    return _updates(server, call, peer, sent)


async def send_multi_media(server: FakeTelegram, call: Call, req: Any) -> Any:
    if not req.multi_media:
        raise RpcFault(400, "MEDIA_EMPTY")
    if len(req.multi_media) > ALBUM_MAX:
        raise RpcFault(400, "MULTI_MEDIA_TOO_LONG")
    items = [(m.media, m.message or "", m.random_id) for m in req.multi_media]
    return await _send(server, call, req, items, album=True)


async def send_media(server: FakeTelegram, call: Call, req: Any) -> Any:
    return await _send(
        server, call, req, [(req.media, req.message or "", req.random_id)], album=False
    )


async def send_message(server: FakeTelegram, call: Call, req: Any) -> Any:
    if not req.message.strip():
        raise RpcFault(400, "MESSAGE_EMPTY")
    if len(req.message) > 4096:
        raise RpcFault(400, "MESSAGE_TOO_LONG")
    return await _send(server, call, req, [(None, req.message, req.random_id)], album=False)


async def edit_message(server: FakeTelegram, call: Call, req: Any) -> Any:
    peer = resolve_peer(server, call, req.peer, write=True)
    me = call.me()
    box = server.box("channel", peer[1]) if peer[0] == "channel" else server.box("user", me.id)
    msg = next((m for m in box.messages if m.id == req.id and m.peer == peer), None)
    if msg is None:
        raise RpcFault(400, "MESSAGE_ID_INVALID")
    if msg.from_id != me.id:
        raise RpcFault(403, "MESSAGE_AUTHOR_REQUIRED")
    _edit_pace(server, me.id, msg.id)
    same_buttons = not me.bot or _markup_bytes(req.reply_markup) == _markup_bytes(msg.reply_markup)
    if req.message is not None:
        if req.message == msg.text and same_buttons:
            raise RpcFault(400, "MESSAGE_NOT_MODIFIED")
        if msg.media is not None:
            _caption(call, server, req.message)
        elif len(req.message) > 4096:
            raise RpcFault(400, "MESSAGE_TOO_LONG")
        msg.history.append(msg.text)
        msg.markups.append(msg.reply_markup)
        msg.edited.append((max(m.id for m in box.messages), next(server.order)))
        msg.text = req.message
    if me.bot:  # an edit without buttons takes the message's buttons away
        msg.reply_markup = req.reply_markup
    msg.edits += 1
    box.pts += 1
    cls = types.UpdateEditChannelMessage if peer[0] == "channel" else types.UpdateEditMessage
    update = cls(message_tl(server, msg), box.pts, 1)
    box.updates.append((box.pts, update))
    users, chats = entities_for(server, [peer], me)
    return types.Updates([update], users, chats, _date(server), 0)


def _edit_pace(server: FakeTelegram, account: int, message_id: int) -> None:
    """Telegram's limit on editing one message (``server.edit_every``), when set."""
    if server.edit_every is None:
        return
    now = server.clock()
    last = server.edited_at.get((account, message_id))
    if last is not None and now < last + server.edit_every:
        raise RpcFault(420, f"FLOOD_WAIT_{math.ceil(last + server.edit_every - now)}")
    server.edited_at[(account, message_id)] = now


def _markup_bytes(markup: Any) -> bytes:
    return bytes(markup) if markup is not None else b""


async def get_history(server: FakeTelegram, call: Call, req: Any) -> Any:
    """A page of a chat's history as Telegram cuts it: newest first, starting
    ``add_offset`` places after the first message older than ``offset_id`` (a negative
    offset reaches newer ones: Telethon reads forwards, ``reverse=True``, that way), then
    ``min_id``/``max_id`` applied. A channel answers ``ChannelMessages`` and a longer
    private chat a ``MessagesSlice``, both with the full count, so a client pages on."""
    peer = resolve_peer(server, call, req.peer)
    me = call.me()
    if me.bot:  # a bot sees messages as updates, never a chat's history
        raise RpcFault(400, "BOT_METHOD_INVALID")
    if peer[0] == "channel":
        msgs = list(server.box("channel", peer[1]).messages)
    else:
        msgs = [m for m in server.box("user", me.id).messages if m.peer == peer]
    msgs.sort(key=lambda m: m.id, reverse=True)
    start = 0
    if req.offset_id:
        start = next((i for i, m in enumerate(msgs) if m.id < req.offset_id), len(msgs))
    start += req.add_offset
    limit = req.limit or 100
    page = msgs[max(start, 0) : max(start + limit, 0)]
    if req.min_id:
        page = [m for m in page if m.id > req.min_id]
    if req.max_id:
        page = [m for m in page if m.id < req.max_id]
    peers = [peer] + [("user", m.from_id) for m in page]
    users, chats = entities_for(server, peers, me)
    shown = [message_tl(server, m) for m in page]
    if peer[0] == "channel":
        pts = server.box("channel", peer[1]).pts
        return types.messages.ChannelMessages(
            pts=pts, count=len(msgs), messages=shown, topics=[], chats=chats, users=users
        )
    if len(page) < len(msgs):
        return types.messages.MessagesSlice(
            count=len(msgs), messages=shown, topics=[], chats=chats, users=users
        )
    return types.messages.Messages(messages=shown, topics=[], chats=chats, users=users)


HANDLERS: dict[type, Any] = {
    functions.messages.SendMultiMediaRequest: send_multi_media,
    functions.messages.SendMediaRequest: send_media,
    functions.messages.SendMessageRequest: send_message,
    functions.messages.EditMessageRequest: edit_message,
    functions.messages.GetHistoryRequest: get_history,
}
