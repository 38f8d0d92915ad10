"""Update state: ``getState``, ``getDifference`` and ``getChannelDifference``.

Each account's private box and each channel keep a pts counter and a log of the
updates that moved it, so a client that missed pushed updates (it was offline, or a
connection dropped) gets exactly those from ``getDifference``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.sender import RpcFault
from faketg.tl import entities_for, when

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram


def state_of(server: FakeTelegram, account_id: int) -> Any:
    box = server.box("user", account_id)
    return types.updates.State(pts=box.pts, qts=0, date=when(server.clock()), seq=0, unread_count=0)


async def get_state(server: FakeTelegram, call: Call, req: Any) -> Any:
    return state_of(server, call.me().id)


async def get_difference(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    box = server.box("user", me.id)
    if req.pts >= box.pts:
        return types.updates.DifferenceEmpty(date=when(server.clock()), seq=0)
    missed = [u for p, u in box.updates if p > req.pts]
    new_messages = [u.message for u in missed if isinstance(u, types.UpdateNewMessage)]
    other = [u for u in missed if not isinstance(u, types.UpdateNewMessage)]
    peers: list[tuple[str, int]] = []
    for m in new_messages:
        peers.append(("user", m.peer_id.user_id))
        if m.from_id is not None:
            peers.append(("user", m.from_id.user_id))
    users, chats = entities_for(server, peers, me)
    return types.updates.Difference(
        new_messages=new_messages,
        new_encrypted_messages=[],
        other_updates=other,
        chats=chats,
        users=users,
        state=state_of(server, me.id),
    )


async def get_channel_difference(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    ch = server.channels.get(getattr(req.channel, "channel_id", 0))
    if ch is None:
        raise RpcFault(400, "CHANNEL_INVALID")
    if me.id not in ch.members:
        raise RpcFault(400, "CHANNEL_PRIVATE")
    box = server.box("channel", ch.id)
    if req.pts >= box.pts:
        return types.updates.ChannelDifferenceEmpty(pts=box.pts, final=True)
    missed = [u for p, u in box.updates if p > req.pts]
    new_messages = [u.message for u in missed if isinstance(u, types.UpdateNewChannelMessage)]
    other = [u for u in missed if not isinstance(u, types.UpdateNewChannelMessage)]
    users, chats = entities_for(server, [("channel", ch.id)], me)
    return types.updates.ChannelDifference(
        pts=box.pts,
        new_messages=new_messages,
        other_updates=other,
        chats=chats,
        users=users,
        final=True,
    )


HANDLERS: dict[type, Any] = {
    functions.updates.GetStateRequest: get_state,
    functions.updates.GetDifferenceRequest: get_difference,
    functions.updates.GetChannelDifferenceRequest: get_channel_difference,
}
