"""Connection set-up, who am I, usernames, channels and dialogs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.dcs import CDN, MAIN
from faketg.sender import RpcFault
from faketg.tl import Vector, channel_tl, entities_for, user_tl, when

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram


async def get_config(server: FakeTelegram, call: Call, req: Any) -> Any:
    now = server.clock()
    return types.Config(
        date=when(now),
        expires=when(now + 3600),
        test_mode=False,
        this_dc=call.dc,
        dc_options=[
            *(types.DcOption(id=dc, ip_address="127.0.0.1", port=443) for dc in MAIN),
            types.DcOption(id=CDN, ip_address="127.0.0.1", port=443, cdn=True),
        ],
        dc_txt_domain_name="fake",
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        online_update_period_ms=210000,
        offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000,
        online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500,
        push_chat_period_ms=60000,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=2147483647,
        revoke_pm_time_limit=2147483647,
        rating_e_decay=2419200,
        stickers_recent_limit=200,
        channels_read_media_period=604800,
        call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000,
        call_connect_timeout_ms=30000,
        call_packet_timeout_ms=10000,
        me_url_prefix="https://t.me/",
        caption_length_max=server.caption_limit,
        message_length_max=4096,
        webfile_dc_id=4,
    )


async def get_app_config(server: FakeTelegram, call: Call, req: Any) -> Any:
    """The client configuration's limits (core.telegram.org/api/config), as the server's
    own: what a client learns here is what the uploads and sends enforce."""
    told = {
        "upload_max_fileparts_default": server.upload_parts,
        "upload_max_fileparts_premium": server.upload_parts_premium,
        "caption_length_limit_default": server.caption_limit,
        "caption_length_limit_premium": server.caption_limit_premium,
    }
    values = [types.JsonObjectValue(k, types.JsonNumber(float(v))) for k, v in told.items()]
    return types.help.AppConfig(hash=1, config=types.JsonObject(values))


async def get_users(server: FakeTelegram, call: Call, req: Any) -> Any:
    found = []
    for u in req.id:
        if isinstance(u, types.InputUserSelf):
            found.append(user_tl(call.me(), call.account))
        elif isinstance(u, types.InputUser) and u.user_id in server.accounts:
            found.append(user_tl(server.accounts[u.user_id], call.account))
        else:
            call.me()
    return Vector(found)


async def resolve_username(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    name = req.username.lower().lstrip("@")
    for acc in server.accounts.values():
        if acc.username and acc.username.lower() == name:
            return types.contacts.ResolvedPeer(
                peer=types.PeerUser(acc.id), chats=[], users=[user_tl(acc, me)]
            )
    for ch in server.channels.values():
        if ch.username and ch.username.lower() == name:
            return types.contacts.ResolvedPeer(
                peer=types.PeerChannel(ch.id), chats=[channel_tl(ch, me)], users=[]
            )
    raise RpcFault(400, "USERNAME_NOT_OCCUPIED")


async def get_channels(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    chats = []
    for ic in req.id:
        ch = server.channels.get(getattr(ic, "channel_id", 0))
        if ch is None or (
            ic.access_hash != ch.access_hash and not (me.bot and ic.access_hash == 0)
        ):
            raise RpcFault(400, "CHANNEL_INVALID")
        chats.append(channel_tl(ch, me))
    return types.messages.Chats(chats=chats)


async def get_chats(server: FakeTelegram, call: Call, req: Any) -> Any:
    """``messages.getChats``: the fake has no basic groups (its groups are supergroups),
    so every id is one no chat has, as Telegram answers it (Telethon asks this of a
    small negative id, ``-100`` and a user's id among them)."""
    raise RpcFault(400, "CHAT_ID_INVALID")


async def get_participant(server: FakeTelegram, call: Call, req: Any) -> Any:
    """``channels.getParticipant``: what a user is in a channel, as Telegram tells a
    member (a broadcast channel's only to its admins): its creator or an admin (with
    the rights to post), a member, banned, or ``USER_NOT_PARTICIPANT``."""
    me = call.me()
    ch = server.channels.get(getattr(req.channel, "channel_id", 0))
    if ch is None or (
        req.channel.access_hash != ch.access_hash and not (me.bot and req.channel.access_hash == 0)
    ):
        raise RpcFault(400, "CHANNEL_INVALID")
    if me.id not in ch.members:
        raise RpcFault(400, "CHANNEL_PRIVATE")
    if ch.broadcast and me.id not in ch.admins:
        raise RpcFault(400, "CHAT_ADMIN_REQUIRED")
    peer = req.participant
    if isinstance(peer, types.InputPeerSelf):
        user = me
    elif isinstance(peer, types.InputPeerUser) and peer.user_id in server.accounts:
        user = server.accounts[peer.user_id]
        if peer.access_hash != user.access_hash and user.id != me.id:
            raise RpcFault(400, "PEER_ID_INVALID")
    else:
        raise RpcFault(400, "PARTICIPANT_ID_INVALID")
    since = when(0)
    found: Any
    if user.id in ch.banned:
        rights = types.ChatBannedRights(until_date=None, view_messages=True, send_messages=True)
        found = types.ChannelParticipantBanned(types.PeerUser(user.id), me.id, since, rights)
    elif user.id not in ch.members:
        raise RpcFault(400, "USER_NOT_PARTICIPANT")
    elif user.id in ch.admins:
        rights = types.ChatAdminRights(post_messages=True, edit_messages=True)
        found = types.ChannelParticipantAdmin(user.id, me.id, since, rights)
    else:
        found = types.ChannelParticipant(user.id, since)
    return types.channels.ChannelParticipant(
        participant=found, chats=[channel_tl(ch, me)], users=[user_tl(user, me)]
    )


async def get_dialogs(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    if me.bot:
        raise RpcFault(400, "BOT_METHOD_INVALID")
    mine = [ch for ch in server.channels.values() if me.id in ch.members]
    dialogs = []
    messages = []
    from faketg.tl import message_tl

    for ch in mine:
        box = server.box("channel", ch.id)
        top = box.messages[-1].id if box.messages else 0
        if box.messages:
            messages.append(message_tl(server, box.messages[-1]))
        dialogs.append(
            types.Dialog(
                peer=types.PeerChannel(ch.id),
                top_message=top,
                read_inbox_max_id=top,
                read_outbox_max_id=top,
                unread_count=0,
                unread_mentions_count=0,
                unread_reactions_count=0,
                unread_poll_votes_count=0,
                notify_settings=types.PeerNotifySettings(),
                pts=box.pts,
            )
        )
    users, chats = entities_for(server, [("channel", ch.id) for ch in mine], me)
    return types.messages.Dialogs(dialogs=dialogs, messages=messages, chats=chats, users=users)


async def log_out(server: FakeTelegram, call: Call, req: Any) -> Any:
    key = call.sender.auth_key.key_id
    if key is not None:
        server.keys.pop(key, None)
    return types.auth.LoggedOut()


HANDLERS: dict[type, Any] = {
    functions.help.GetConfigRequest: get_config,
    functions.help.GetAppConfigRequest: get_app_config,
    functions.users.GetUsersRequest: get_users,
    functions.contacts.ResolveUsernameRequest: resolve_username,
    functions.channels.GetChannelsRequest: get_channels,
    functions.messages.GetChatsRequest: get_chats,
    functions.channels.GetParticipantRequest: get_participant,
    functions.messages.GetDialogsRequest: get_dialogs,
    functions.auth.LogOutRequest: log_out,
}
