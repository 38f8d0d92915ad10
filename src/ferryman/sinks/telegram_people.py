"""Which Telegram chats are a person's to send to (``TelegramKind.check_person``).

ferryman sends as the server's Telegram account, which reaches far more than any one
person should: its own Saved Messages (``telegram:me``), anyone who ever wrote to it,
every group and channel it is in. A person (an ordinary account, never an
administrator) may send only where their own Telegram account could have sent it
themselves:

- to their own linked Telegram account (``/link``): a private chat with themselves,
  named by its id or its ``@username``;
- to a group (a basic group, a supergroup, a forum) their linked account is a member
  of, not banned from and not gone from;
- to a broadcast channel only where their linked account may post: its creator, or an
  administrator with the right to post. A subscriber reads a channel and never posts
  there; a person who may not post in a channel themselves may not post through ours.

``me`` (the server's account's Saved Messages) and anyone else's private chat are
refused, as is everything for a person who linked no Telegram account. The places an
administrator allowed everyone (``telegram.default_target``) are taken before this is
asked (``engine/plumbing/places``). The membership is asked of Telegram, through the
engine's own account (``channels.getParticipant``; a basic group's member list): where a
person names the place and again as each album goes, so a membership that ended stops
the next album (``account.dest_forbidden``). A yes is believed for ``MEMBERSHIP_SECONDS``
on the engine's clock (``Memberships``): a job of 100 albums asks about once a minute,
not twice an album, and a membership that ended is noticed within that minute. A no is
never kept: one who just joined is let in at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferryman.errors import FerrymanError
from ferryman.sinks.telegram_target import telegram_target

if TYPE_CHECKING:
    from ferryman.clock import Clock
    from ferryman.resources import Shared

CODE = "account.dest_forbidden"
MEMBERSHIP_SECONDS = 60.0  # how long a yes is believed: the bound on noticing one ended
MEMBERSHIPS_KEPT = 256  # (chat, person) yeses kept; the oldest goes first
_KEY = "telegram.memberships"  # in the engine's shared resources


class Memberships:
    """The yeses ``may_send`` gave lately, each for ``MEMBERSHIP_SECONDS`` of ``clock``
    (the engine's, which a test moves): one engine's, kept in its shared resources so
    its doors and its deliver stage share them and they end with it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._yes: dict[tuple[str, int], float] = {}  # (chat, user) -> when, oldest first

    def knows(self, chat: str | int, user: int) -> bool:
        """Whether ``user`` may send to ``chat`` by a yes still young enough."""
        key = (str(chat).lower(), user)
        at = self._yes.get(key)
        if at is None:
            return False
        if self.clock.monotonic() - at < MEMBERSHIP_SECONDS:
            return True
        del self._yes[key]
        return False

    def remember(self, chat: str | int, user: int) -> None:
        key = (str(chat).lower(), user)
        self._yes.pop(key, None)
        self._yes[key] = self.clock.monotonic()
        while len(self._yes) > MEMBERSHIPS_KEPT:
            del self._yes[next(iter(self._yes))]

    async def close(self) -> None:
        self._yes.clear()


def memberships(resources: Shared) -> Memberships:
    """The engine's ``Memberships`` (made on its clock the first time it is asked)."""
    return resources.get(_KEY, lambda: Memberships(resources.clock))


async def check_person(target: str, linked: int | None, resources: Shared | None) -> None:
    """Nothing when the person whose linked Telegram user is ``linked`` may send to the
    chat of ``target``; ``account.dest_forbidden`` (saying why) else."""
    chat = telegram_target(target).chat
    if chat == "me":
        raise FerrymanError(
            CODE,
            "telegram:me is the Saved Messages of the server's Telegram account, not yours:"
            " send to your own Telegram account (@yourname), or a group or channel of yours",
        )
    if linked is None:
        raise FerrymanError(
            CODE,
            f"telegram:{target}: link your Telegram account first (/link), then send to"
            " it or to a group or channel you are in",
        )
    if chat == linked:
        return  # their own private chat, by its id: nothing to ask
    if resources is None:
        raise FerrymanError(CODE, f"telegram:{target}: your membership cannot be checked here")
    known = memberships(resources)
    if known.knows(chat, linked):
        return  # asked less than MEMBERSHIP_SECONDS ago
    from ferryman.telegram.hub import shared_hub  # lazy: Telethon

    client = await shared_hub(resources).client()
    if not await may_send(client, chat, linked):
        raise FerrymanError(
            CODE,
            f"telegram:{target} is not a chat of yours: your linked Telegram account is not"
            " a member there (a channel: not one who may post)",
        )
    known.remember(chat, linked)


async def may_send(client: Any, chat: str | int, user: int) -> bool:
    """Whether Telegram user ``user`` is ``chat`` (their own private chat), a member of
    it (a group) or may post in it (a broadcast channel), as ``client`` is told."""
    from telethon import errors, types  # lazy: Telethon
    from telethon.tl.functions.channels import GetParticipantRequest

    from ferryman.telegram.errors import from_telethon  # lazy: Telethon

    try:
        peer = await _peer(client, chat)
    except _unseen():
        return False  # an id no chat the server's account sees has: no one's here
    except errors.RPCError as exc:
        raise from_telethon(exc) from exc
    if peer is None:
        return False  # a chat the server's account cannot see is no one's here
    if isinstance(peer, types.InputPeerUser):
        return bool(peer.user_id == user)
    if not isinstance(peer, types.InputPeerChat | types.InputPeerChannel):
        return False  # InputPeerSelf: the server's own account
    try:
        person = await client.get_input_entity(user)
    except ValueError:
        return False  # never met by the server's account: no membership to read
    try:
        if isinstance(peer, types.InputPeerChat):
            rights = await client.get_permissions(peer, person)
            return not (rights.has_left or rights.is_banned)
        entity = await client.get_entity(peer)
        found = (await client(GetParticipantRequest(peer, person))).participant
    except errors.UserNotParticipantError:
        return False
    except (errors.UserIdInvalidError, errors.ParticipantIdInvalidError, *_unseen()):
        return False  # Telethon's errors of a code: their ``message`` is BAD_REQUEST
    except errors.RPCError as exc:
        raise from_telethon(exc) from exc
    return _participates(found, broadcast=bool(getattr(entity, "broadcast", False)))


def _unseen() -> tuple[type[Exception], ...]:
    """Telegram's answers for an id that names no chat the asking account may see: a
    user's id written as a group's (``-100…``, ``-…``), a channel it left or never
    joined. Its own classes (an error's ``message`` is BAD_REQUEST, not its name)."""
    from telethon import errors  # lazy: Telethon

    return (
        errors.ChannelInvalidError,
        errors.ChannelPrivateError,
        errors.ChatIdInvalidError,
        errors.PeerIdInvalidError,
    )


def _participates(found: Any, *, broadcast: bool) -> bool:
    """A channel's participant as a place to send to: a group's member (not banned from
    writing, not gone), a broadcast channel's creator or administrator who posts."""
    from telethon import types  # lazy: Telethon

    if isinstance(found, types.ChannelParticipantCreator):
        return True
    if isinstance(found, types.ChannelParticipantAdmin):
        rights = found.admin_rights
        return not broadcast or bool(rights is not None and rights.post_messages)
    if isinstance(found, types.ChannelParticipantLeft | types.ChannelParticipantBanned):
        return False
    return not broadcast  # a member of a group; a channel's subscriber only reads


async def _peer(client: Any, chat: str | int) -> Any:
    """The chat's input peer as the server's account knows it (an id not seen yet is
    looked for among its dialogs, as the sink does); None: it cannot see it."""
    try:
        return await client.get_input_entity(chat)
    except ValueError:
        pass
    if not isinstance(chat, int) or (await client.get_me()).bot:
        return None
    await client.get_dialogs()
    try:
        return await client.get_input_entity(chat)
    except ValueError:
        return None
