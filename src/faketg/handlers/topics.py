"""Forum topics (``messages.createForumTopic``, ``messages.getForumTopics``) and pins
(``messages.updatePinnedMessage``).

As Telegram does: only a forum supergroup has topics (``CHANNEL_FORUM_MISSING``); only
an admin makes one unless the group lets its members (``CHAT_ADMIN_REQUIRED``); a title
has 1 to 128 characters, kept without the spaces around it (as Telegram's apps send it,
TDLib's ``clean_name``); a topic is the service message that made it, so its id is that
message's and a post into it names it as ``top_msg_id``. Making one takes a
``random_id`` as a send does: a repeat answers with the first request's topic and makes
nothing new. A search (``q``) finds the titles holding it, newest first. In a channel
or group only an admin pins (``CHAT_ADMIN_REQUIRED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.handlers.messages import _replay, _updates, post_as
from faketg.sender import RpcFault
from faketg.state import Channel
from faketg.tl import entities_for, peer_tl, resolve_peer, when

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

TITLE_MAX = 128


def _forum(server: FakeTelegram, peer: tuple[str, int]) -> Channel:
    if peer[0] != "channel" or not server.channels[peer[1]].forum:
        raise RpcFault(400, "CHANNEL_FORUM_MISSING")
    return server.channels[peer[1]]


async def create_forum_topic(server: FakeTelegram, call: Call, req: Any) -> Any:
    peer = resolve_peer(server, call, req.peer, write=True)
    forum = _forum(server, peer)
    me = call.me()
    if me.id not in forum.admins and not forum.members_make_topics:
        raise RpcFault(403, "CHAT_ADMIN_REQUIRED")
    title = (req.title or "").strip()
    if not title:
        raise RpcFault(400, "TOPIC_TITLE_EMPTY")
    if len(title) > TITLE_MAX:
        raise RpcFault(400, "TOPIC_TITLE_TOO_LONG")  # not one of Telegram's own words
    if not req.random_id:
        raise RpcFault(400, "RANDOM_ID_INVALID")
    replay = _replay(server, call, peer, [req.random_id])
    if replay is not None:
        return replay
    key = (me.id, req.random_id)
    server.in_progress_random.add(key)
    try:
        sent = post_as(
            server, me, peer, [("", None, req.random_id)], grouped=False, topic=None, reply_to=None
        )
        msg = sent[0][0]
        msg.action = types.MessageActionTopicCreate(title=title, icon_color=0)
        msg.topic_id = msg.id
        forum.topics.add(msg.id)
        forum.topic_titles[msg.id] = title
        server.sent_random[key] = [msg.id]
    finally:
        server.in_progress_random.discard(key)
    return _updates(server, call, peer, sent)


async def get_forum_topics(server: FakeTelegram, call: Call, req: Any) -> Any:
    peer = resolve_peer(server, call, req.peer)
    forum = _forum(server, peer)
    box = server.box("channel", forum.id)
    made = {m.id: m for m in box.messages if m.id in forum.topic_titles}
    wanted = (req.q or "").casefold()
    ids = sorted(
        (i for i, title in forum.topic_titles.items() if wanted in title.casefold()),
        reverse=True,
    )
    if req.offset_topic:
        ids = [i for i in ids if i < req.offset_topic]
    shown = ids[: max(0, min(req.limit or 100, 100))]
    topics = []
    for topic_id in shown:
        first = made[topic_id]
        last = max((m.id for m in box.messages if m.topic_id == topic_id), default=topic_id)
        topics.append(
            types.ForumTopic(
                id=topic_id,
                date=when(first.date),
                peer=peer_tl(peer),
                title=forum.topic_titles[topic_id],
                icon_color=0,
                top_message=last,
                read_inbox_max_id=last,
                read_outbox_max_id=last,
                unread_count=0,
                unread_mentions_count=0,
                unread_reactions_count=0,
                unread_poll_votes_count=0,
                from_id=types.PeerUser(first.from_id),
                notify_settings=types.PeerNotifySettings(),
            )
        )
    users, chats = entities_for(server, [peer], call.account)
    return types.messages.ForumTopics(
        count=len(ids), topics=topics, messages=[], chats=chats, users=users, pts=box.pts
    )


async def update_pinned_message(server: FakeTelegram, call: Call, req: Any) -> Any:
    peer = resolve_peer(server, call, req.peer, write=True)
    if peer[0] != "channel":
        return types.Updates([], [], [], when(server.clock()), 0)
    ch = server.channels[peer[1]]
    if call.me().id not in ch.admins:
        raise RpcFault(403, "CHAT_ADMIN_REQUIRED")
    box = server.box("channel", ch.id)
    if not any(m.id == req.id for m in box.messages):
        raise RpcFault(400, "MESSAGE_ID_INVALID")
    if req.unpin:
        ch.pinned.discard(req.id)
    else:
        ch.pinned.add(req.id)
    box.pts += 1
    update = types.UpdatePinnedChannelMessages(
        channel_id=ch.id, messages=[req.id], pts=box.pts, pts_count=1, pinned=not req.unpin
    )
    box.updates.append((box.pts, update))
    users, chats = entities_for(server, [peer], call.account)
    return types.Updates([update], users, chats, when(server.clock()), 0)


HANDLERS: dict[type, Any] = {
    functions.messages.UpdatePinnedMessageRequest: update_pinned_message,
    functions.messages.CreateForumTopicRequest: create_forum_topic,
    functions.messages.GetForumTopicsRequest: get_forum_topics,
}
