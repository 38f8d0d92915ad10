"""Turning the fake's state into the TL objects clients receive, and InputPeers back."""

from __future__ import annotations

import datetime as dt
import struct
from typing import TYPE_CHECKING, Any

from telethon.tl import types

from faketg.sender import RpcFault
from faketg.state import Account, Channel, StoredMessage

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

BOOL_TRUE = struct.pack("<I", 0x997275B5)
BOOL_FALSE = struct.pack("<I", 0xBC799737)


class Raw:
    """A ready-serialised answer (``Bool`` has no TL class in Telethon)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __bytes__(self) -> bytes:
        return self.body


def when(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), tz=dt.UTC)


def user_tl(acc: Account, viewer: Account | None) -> types.User:
    is_self = viewer is not None and viewer.id == acc.id
    return types.User(
        id=acc.id,
        is_self=is_self,
        bot=acc.bot,
        premium=acc.premium,
        access_hash=acc.access_hash,
        first_name=acc.first_name,
        username=acc.username,
        phone=acc.phone if is_self else None,
        bot_info_version=1 if acc.bot else None,
    )


def channel_tl(ch: Channel, viewer: Account | None) -> types.Channel:
    return types.Channel(
        id=ch.id,
        title=ch.title,
        photo=types.ChatPhotoEmpty(),
        date=when(0),
        broadcast=ch.broadcast,
        megagroup=not ch.broadcast,
        forum=ch.forum,
        slowmode_enabled=ch.slowmode_seconds > 0,
        access_hash=ch.access_hash,
        username=ch.username,
        left=viewer is not None and viewer.id not in ch.members,
        # What Telegram tells an admin of its own rights (a client sees whether it may post).
        admin_rights=(
            types.ChatAdminRights(post_messages=True, edit_messages=True, delete_messages=True)
            if viewer is not None and viewer.id in ch.admins
            else None
        ),
    )


def peer_tl(peer: tuple[str, int]) -> Any:
    kind, pid = peer
    return types.PeerChannel(pid) if kind == "channel" else types.PeerUser(pid)


def resolve_peer(
    server: FakeTelegram, call: Call, peer: Any, *, write: bool = False
) -> tuple[str, int]:
    """An InputPeer as ("user", id) or ("channel", id), checking hashes and membership
    (reading a public channel, one with a username, needs none)."""
    me = call.me()
    if isinstance(peer, types.InputPeerSelf):
        return ("user", me.id)
    if isinstance(peer, types.InputPeerUser):
        acc = server.accounts.get(peer.user_id)
        if acc is None or (peer.access_hash != acc.access_hash and acc.id != me.id):
            raise RpcFault(400, "PEER_ID_INVALID")
        return ("user", acc.id)
    if isinstance(peer, types.InputPeerChannel):
        ch = server.channels.get(peer.channel_id)
        if ch is None or peer.access_hash != ch.access_hash:
            raise RpcFault(400, "CHANNEL_INVALID")
        if me.id not in ch.members and (write or ch.username is None):
            raise RpcFault(400, "CHANNEL_PRIVATE")  # a public one is read without joining
        if write and ch.broadcast and me.id not in ch.admins:
            raise RpcFault(403, "CHAT_ADMIN_REQUIRED")
        return ("channel", ch.id)
    raise RpcFault(400, "PEER_ID_INVALID")


def message_tl(server: FakeTelegram, m: StoredMessage) -> Any:
    if m.action is not None:  # a service message: a forum topic made
        return types.MessageService(
            id=m.id,
            peer_id=peer_tl(m.peer),
            date=when(m.date),
            action=m.action,
            out=m.out,
            from_id=types.PeerUser(m.from_id),
        )
    media: Any = None
    if m.media is not None:
        if m.media.kind == "photo":
            media = types.MessageMediaPhoto(photo=m.media.tl)
        else:
            is_video = any(isinstance(a, types.DocumentAttributeVideo) for a in m.media.attributes)
            media = types.MessageMediaDocument(document=m.media.tl, video=is_video or None)
    reply = None
    if m.topic_id is not None:
        reply = types.MessageReplyHeader(
            reply_to_msg_id=m.reply_to or m.topic_id, forum_topic=True, reply_to_top_id=m.topic_id
        )
    elif m.reply_to is not None:
        reply = types.MessageReplyHeader(reply_to_msg_id=m.reply_to)
    return types.Message(
        id=m.id,
        peer_id=peer_tl(m.peer),
        date=when(m.date),
        message=m.text,
        out=m.out,
        from_id=types.PeerUser(m.from_id),
        media=media,
        grouped_id=m.grouped_id,
        reply_to=reply,
        edit_date=when(m.date) if m.edits else None,
        reply_markup=m.reply_markup,
    )


def entities_for(
    server: FakeTelegram, peers: list[tuple[str, int]], viewer: Account | None
) -> tuple[list[Any], list[Any]]:
    """The users and chats a result must carry so the client can use the peers in it."""
    users: dict[int, Any] = {}
    chats: dict[int, Any] = {}
    if viewer is not None:
        users[viewer.id] = user_tl(viewer, viewer)
    for kind, pid in peers:
        if kind == "user" and pid in server.accounts:
            users[pid] = user_tl(server.accounts[pid], viewer)
        elif kind == "channel" and pid in server.channels:
            chats[pid] = channel_tl(server.channels[pid], viewer)
    return list(users.values()), list(chats.values())


class Vector:
    """A bare ``Vector<T>`` as bytes (Telethon reads it with ``tgread_vector``; it has
    no class for one)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __bytes__(self) -> bytes:
        head = struct.pack("<Ii", 0x1CB5C415, len(self.items))
        return head + b"".join(bytes(i) for i in self.items)
