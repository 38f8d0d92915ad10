"""A protocol-level fake of Telegram's servers for the real Telethon client.

Requests arrive as the bytes Telethon serialised; each is parsed with Telethon's own TL
tables and answered by a handler that enforces the documented rules. What a person would
see in a chat is kept in message boxes and can be read back with :meth:`chat`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telethon.extensions import BinaryReader
from telethon.tl import functions

from faketg.accounts import AccountCaps, cap_of, check_flood
from faketg.crypto import Keys, Refused
from faketg.dcs import CDN, HOME, DataCentres
from faketg.network import LinkModel, Network
from faketg.parts import PartLedger
from faketg.sender import Dropped, FakeSender, RpcFault
from faketg.state import Account, Box, Channel, StoredMedia, StoredMessage, Upload

Handler = Callable[["FakeTelegram", "Call", Any], Awaitable[Any]]
_R = TypeVar("_R")

# Requests that work before login (everything else answers AUTH_KEY_UNREGISTERED).
UNAUTHORIZED_OK = frozenset(
    {
        functions.help.GetConfigRequest,
        functions.auth.SendCodeRequest,
        functions.auth.SignInRequest,
        functions.auth.CheckPasswordRequest,
        functions.auth.ImportBotAuthorizationRequest,
        functions.account.GetPasswordRequest,
        functions.updates.GetStateRequest,
        functions.users.GetUsersRequest,
        functions.auth.ImportAuthorizationRequest,  # a new key on another DC (``dcs``)
        functions.upload.GetCdnFileRequest,  # CDN connections are not logged in
    }
)
# All a CDN DC answers (anything else: CDN_METHOD_INVALID).
CDN_OK = (functions.upload.GetCdnFileRequest, functions.help.GetConfigRequest)

_PART_REQUESTS = (functions.upload.SaveFilePartRequest, functions.upload.SaveBigFilePartRequest)

_WRAPPERS = (
    functions.InvokeWithLayerRequest,
    functions.InitConnectionRequest,
    functions.InvokeWithoutUpdatesRequest,
)


@dataclass(slots=True)
class Fault:
    """An injected failure for the next matching request(s)."""

    request: type
    error: str | None = None  # e.g. "FLOOD_WAIT_5"; None with drop=True
    code: int = 400
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    drop: bool = False  # drop the connection instead of answering
    after: bool = False  # handle the request first, then fail/drop (the reply is lost)
    match: Callable[[Any], bool] | None = None
    hits: int = 0


@dataclass(slots=True)
class Hold:
    """Matching requests kept unanswered until :meth:`release`: a download held halfway
    while a test reads what the client shows meanwhile, however loaded the machine (a slow
    link only makes that likely)."""

    request: type
    match: Callable[[Any], bool] | None = None
    account: int | None = None  # only this account's requests (None: anyone's)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0  # requests that have waited here
    waiting: int = 0  # of them, those still waiting

    def holds(self, request: Any, account: Account | None) -> bool:
        return (
            isinstance(request, self.request)
            and not self.released.is_set()
            and (self.account is None or (account is not None and account.id == self.account))
            and (self.match is None or self.match(request))
        )

    def release(self) -> None:
        self.released.set()


@dataclass(slots=True)
class Call:
    """One request in context: which connection, which account, when."""

    sender: FakeSender
    account: Account | None
    api_id: int | None
    dc: int = HOME  # the data centre the request reached (``dcs``)

    def me(self) -> Account:
        if self.account is None:
            raise RpcFault(401, "AUTH_KEY_UNREGISTERED")
        return self.account


@dataclass(slots=True)
class Stats:
    requests: dict[str, int] = field(default_factory=dict)
    max_parts_in_flight: int = 0
    parts_in_flight: int = 0
    parts_by_connection: dict[int, int] = field(default_factory=dict)  # conn id -> part requests


class FakeTelegram:
    """The fake's whole world, in memory. One instance per test (or benchmark)."""

    def __init__(
        self,
        *,
        link: LinkModel | None = None,
        api_ids: dict[int, str] | None = None,
        seed: int = 1,
        clock: Callable[[], float] = time.time,
        edit_every: float | None = None,
    ) -> None:
        """``edit_every``: Telegram's limit on editing one message, when a test wants
        it: an edit sooner than this after the message's last one is answered
        ``FLOOD_WAIT_N`` (N: the seconds left, rounded up); None: no limit."""
        self.network = Network(link or LinkModel())
        self.caps = AccountCaps()  # per-account speed caps (``faketg.accounts.cap_account``)
        self.api_ids = api_ids if api_ids is not None else {1: "fakehash"}
        self.rng = random.Random(seed)
        self.clock = clock
        self.accounts: dict[int, Account] = {}
        self.channels: dict[int, Channel] = {}
        self.boxes: dict[tuple[str, int], Box] = {}
        self.keys: dict[int, int] = {}  # auth key id -> account id
        self.wire = Keys()  # the auth keys themselves: MTProto's encryption (``crypto``)
        self.uploads: dict[tuple[int, int], Upload] = {}  # (auth key id, file_id)
        self.parts = PartLedger()  # how long parts are kept; which came twice (``parts``)
        self.media: dict[int, StoredMedia] = {}
        self.dcs = DataCentres()  # whose key is on which DC; the CDN (``dcs``)
        self.sent_random: dict[tuple[int, int], list[int]] = {}  # (account, random_id) -> ids
        self.in_progress_random: set[tuple[int, int]] = set()
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self.senders: dict[int, FakeSender] = {}
        self.handlers: dict[type, Handler] = {}
        self.stats = Stats()
        self.log: list[tuple[int | None, str]] = []  # (account, request name) in order
        self.edit_every = edit_every
        self.edited_at: dict[tuple[int, int], float] = {}  # (account, message id) -> when
        self.bot_commands: dict[tuple[int, str], list[Any]] = {}  # (bot, lang) -> BotCommands
        self.callback_queries: dict[int, asyncio.Future[Any]] = {}  # query id -> its answer
        # Telegram's limits, told to clients in ``help.getAppConfig`` (core.py) and kept
        # here: captions in characters, files in 512 KiB parts (4000: 2000 MiB).
        self.caption_limit = 1024
        self.caption_limit_premium = 2048
        self.upload_parts = 4000
        self.upload_parts_premium = 8000
        # What happened in which order (an edit, a press a test makes): a transcript
        # shows each where it happened, not all of a message's edits at once.
        self.order = itertools.count(1)
        # Off: big files keep only each part's size and a running SHA-256, not the bytes
        # (a benchmark's 1 GB upload would otherwise hold 2 GB here); no downloads then.
        self.keep_part_bytes = True
        self._ids = itertools.count(1000)
        self._conn_ids = itertools.count(1)
        self.processing_delay: dict[type, float] = {}  # extra server-side time per request
        # Called with (call, request, result) as soon as a handler returned, before the
        # answer travels back: where a test kills the client between a send and its record.
        # A hook may hand back an awaitable: the answer waits for it (a kill held until the
        # client recorded what it must, however loaded the machine).
        self.after_handle: list[Callable[[Call, Any, Any], object]] = []
        from faketg import handlers  # the handler tables, merged once

        for table in handlers.TABLES:
            self.handlers.update(table)

    # ---------------------------------------------------------------- world

    def new_id(self) -> int:
        return next(self._ids)

    def add_user(
        self,
        first_name: str,
        *,
        username: str | None = None,
        phone: str | None = None,
        bot: bool = False,
        premium: bool = False,
        password: str | None = None,
        bot_token: str | None = None,
        user_id: int | None = None,
        dc_id: int = HOME,
    ) -> Account:
        """``dc_id``: the account's home data centre, where its uploads are kept."""
        uid = user_id or self.new_id()
        acc = Account(
            uid,
            self.rng.getrandbits(63),
            first_name,
            username,
            phone,
            bot,
            premium,
            password,
            bot_token,
            dc_id=dc_id,
        )
        self.accounts[uid] = acc
        return acc

    def add_channel(
        self,
        title: str,
        *,
        username: str | None = None,
        members: list[Account] | None = None,
        admins: list[Account] | None = None,
        forum: bool = False,
        broadcast: bool = True,
        slowmode_seconds: int = 0,
    ) -> Channel:
        cid = self.new_id() + 1_000_000_000  # ids a real client would show as -100…
        ch = Channel(
            cid,
            self.rng.getrandbits(63),
            title,
            username,
            broadcast=broadcast and not forum,
            forum=forum,
            slowmode_seconds=slowmode_seconds,
        )
        for m in members or []:
            ch.members.add(m.id)
        for a in admins or []:
            ch.members.add(a.id)
            ch.admins.add(a.id)
        self.channels[cid] = ch
        return ch

    def box(self, kind: str, owner: int) -> Box:
        return self.boxes.setdefault((kind, owner), Box())

    def authorize(self, sender_key_id: int, account: Account, dc_id: int | None = None) -> None:
        """The key logs in as ``account`` on ``dc_id`` (None: the account's home DC)."""
        self.keys[sender_key_id] = account.id
        self.dcs.key_dcs[sender_key_id] = account.dc_id if dc_id is None else dc_id

    def revoke(self, account: Account) -> None:
        """End every session of the account (as 'terminate all sessions' does)."""
        for key, owner in list(self.keys.items()):
            if owner == account.id:
                del self.keys[key]

    def inject(self, request: type, error: str | None = None, **kwargs: Any) -> Fault:
        """Fail the next matching request(s); see :class:`Fault`."""
        code = kwargs.pop("code", None)
        if code is None and error is not None:
            code = 420 if error.startswith(("FLOOD", "SLOWMODE")) else 400
            if error.startswith(("AUTH_KEY", "SESSION_REVOKED", "USER_DEACTIVATED")):
                code = 401
            if error in ("RPC_CALL_FAIL", "INTERNAL") or error.startswith("INTERDC"):
                code = 500
        fault = Fault(request, error, code or 400, **kwargs)
        self.faults.append(fault)
        return fault

    def hold(
        self,
        request: type,
        match: Callable[[Any], bool] | None = None,
        *,
        account: Account | None = None,
    ) -> Hold:
        """Keep matching requests (of ``account`` alone, if given) unanswered until the
        returned hold is released."""
        hold = Hold(request, match, account.id if account is not None else None)
        self.holds.append(hold)
        return hold

    # -------------------------------------------------------------- transport

    def attach(self, sender: FakeSender) -> int:
        conn_id = next(self._conn_ids)
        if sender.auth_key.key is not None:  # told as it connects: no key exchange here
            self.wire.learn(sender.auth_key.key)
        self.senders[conn_id] = sender
        return conn_id

    def detach(self, sender: FakeSender) -> None:
        self.senders.pop(sender.id, None)

    def account_of(self, sender: FakeSender) -> Account | None:
        key_id = sender.auth_key.key_id
        owner = self.keys.get(key_id) if key_id is not None else None
        if owner is None or not self.dcs.key_serves(sender):
            return None  # a key is authorised on its own DC only
        return self.accounts.get(owner)

    def connections_of(self, account_id: int) -> list[FakeSender]:
        return [
            s for s in self.senders.values() if (a := self.account_of(s)) and a.id == account_id
        ]

    def drop_all(self, account: Account | None = None) -> None:
        """Drop every connection (of one account): a network outage."""
        for s in list(self.senders.values()):
            if account is None or ((a := self.account_of(s)) is not None and a.id == account.id):
                s.drop()

    async def call(self, sender: FakeSender, data: bytes) -> bytes:
        cap = cap_of(self, sender)  # the account's own speed cap, if one is set
        await self.network.carry(sender.pipe, len(data), up=True, also=cap)
        if not sender.is_connected():
            raise Dropped
        opened = await _off_loop(self.wire.open, data)
        if opened.key_id != sender.auth_key.key_id:
            self.wire.refused += 1
            raise Dropped  # another key than this connection's: Telegram closes it too
        with BinaryReader(opened.body) as reader:
            request = reader.tgread_object()
        while isinstance(request, _WRAPPERS):
            if isinstance(request, functions.InitConnectionRequest):
                sender.api_id = request.api_id
            request = request.query
        name = type(request).__name__
        self.stats.requests[name] = self.stats.requests.get(name, 0) + 1
        account = self.account_of(sender)
        self.log.append((account.id if account else None, name))
        part = isinstance(request, _PART_REQUESTS)
        if part:  # counted from arrival until the reply is back (or fails)
            st = self.stats
            st.parts_in_flight += 1
            st.max_parts_in_flight = max(st.max_parts_in_flight, st.parts_in_flight)
            st.parts_by_connection[sender.id] = st.parts_by_connection.get(sender.id, 0) + 1
        try:
            fault = self._take_fault(request)
            if fault is not None and not fault.after:
                self._raise(fault)
            call = Call(sender, account, sender.api_id, self.dcs.dc_of(sender))
            result = await self.handle(call, request)
            for hook in list(self.after_handle):
                held = hook(call, request, result)
                if inspect.isawaitable(held):  # else what it gave is not the fake's
                    await held
            if fault is not None:
                self._raise(fault)
            body = await _off_loop(self.wire.seal, opened, bytes(result))
            await self.network.carry(sender.pipe, len(body), up=False, also=cap)
            if not sender.is_connected():
                raise Dropped
            return body
        finally:
            if part:
                self.stats.parts_in_flight -= 1

    async def handle(self, call: Call, request: Any) -> Any:
        kind = type(request)
        if call.api_id is not None and call.api_id not in self.api_ids:
            raise RpcFault(400, "API_ID_INVALID")
        on_cdn = call.dc == CDN
        if on_cdn != isinstance(request, CDN_OK) and kind is not functions.help.GetConfigRequest:
            raise RpcFault(400, "CDN_METHOD_INVALID")  # only getCdnFile there, never elsewhere
        if call.account is None and kind not in UNAUTHORIZED_OK:
            raise RpcFault(401, "AUTH_KEY_UNREGISTERED")
        if call.account is not None and call.account.banned:
            raise RpcFault(401, "USER_DEACTIVATED_BAN")
        check_flood(self, call.account, request)  # an account slowed down (``accounts``)
        handler = self.handlers.get(kind)
        if handler is None:
            raise RpcFault(400, f"FAKE_NOT_IMPLEMENTED_{kind.__name__.upper()}")
        delay = self.processing_delay.get(kind)
        if delay:
            await asyncio.sleep(delay)
        for hold in [h for h in self.holds if h.holds(request, call.account)]:
            hold.held += 1
            hold.waiting += 1
            try:
                await hold.released.wait()
            finally:
                hold.waiting -= 1
        return await handler(self, call, request)

    def _take_fault(self, request: Any) -> Fault | None:
        for fault in self.faults:
            if not isinstance(request, fault.request):
                continue
            if fault.match is not None and not fault.match(request):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.hits += 1
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        return None

    @staticmethod
    def _raise(fault: Fault) -> None:
        if fault.drop:
            raise Dropped
        raise RpcFault(fault.code, fault.error or "INTERNAL")

    # ---------------------------------------------------------------- updates

    def push(self, account_id: int, updates: Any) -> None:
        """Send an ``Updates`` object to every connection of an account with an update queue."""
        body = bytes(updates)
        for sender in self.connections_of(account_id):
            sender.deliver_update(body)

    # ------------------------------------------------------------- chat view

    def chat(self, peer: Account | Channel, viewer: Account | None = None) -> list[StoredMessage]:
        """Messages as a person sees them: a channel's history, or a private chat.

        For a private chat, ``viewer`` is whose box to read (the other side's view of
        ``peer``); with ``viewer`` None and ``peer`` an account, its Saved Messages.
        """
        if isinstance(peer, Channel):
            return list(self.box("channel", peer.id).messages)
        owner = viewer or peer
        return [m for m in self.box("user", owner.id).messages if m.peer == ("user", peer.id)]

    def albums(
        self, peer: Account | Channel, viewer: Account | None = None
    ) -> list[list[StoredMessage]]:
        """The chat's media messages grouped as shown: an album per ``grouped_id``."""
        groups: list[list[StoredMessage]] = []
        last: int | None = None
        for m in self.chat(peer, viewer):
            if m.media is None:
                continue
            if m.grouped_id is not None and m.grouped_id == last:
                groups[-1].append(m)
            else:
                groups.append([m])
            last = m.grouped_id
        return groups


_OFF_LOOP = 64 * 1024  # bytes: a file part's AES goes to a thread (cryptg lets go of the GIL)


async def _off_loop(fn: Callable[..., _R], *args: Any) -> _R:
    """``fn(*args)``, on a thread when a big message is in them: the fake's AES is the
    server's work, not the client's, though both share this loop in a test. A message
    the fake cannot read closes the connection (``Dropped``)."""
    big = any(isinstance(a, bytes) and len(a) > _OFF_LOOP for a in args)
    try:
        return await asyncio.to_thread(fn, *args) if big else fn(*args)
    except Refused:
        raise Dropped from None
