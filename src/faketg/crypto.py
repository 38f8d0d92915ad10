"""MTProto 2.0's encryption between the fake and its clients, so a client pays what it pays.

Against Telegram, every request a Telethon client sends is written as an MTProto message
(msg_id, seq_no, length; bodies over 512 bytes gzipped when that is smaller), prefixed
with the salt and session id, padded, keyed by ``msg_key`` (SHA-256 of part of the auth
key and the plaintext) and AES-IGE encrypted; every answer comes back the same way with
the server's half of the key. Here the client side is Telethon's own ``MTProtoState``
(its costs are exactly the client's), and the server side is written out from
core.telegram.org/mtproto/description: it decrypts, checks ``msg_key`` and the padding,
and refuses a message it cannot read as Telegram does, by closing the connection.

No key exchange: the client tells its auth key as it connects (the fake's stand-in for
the Diffie-Hellman exchange, whose result both sides would then hold), and the server
keeps it by key id (``Keys``). Updates the server pushes are not encrypted (small, and
not what a transfer pays for).
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from hashlib import sha1, sha256

from telethon.crypto import AES, AuthKey
from telethon.extensions import BinaryReader
from telethon.network.mtprotostate import MTProtoState
from telethon.tl.core import GzipPacked, RpcResult

_log = logging.getLogger(__name__)
_RPC_RESULT = struct.pack("<I", RpcResult.CONSTRUCTOR_ID)
_GZIP = struct.pack("<I", GzipPacked.CONSTRUCTOR_ID)


class Refused(Exception):
    """A message the server cannot read with the key it knows: the connection closes."""


class _Loggers(dict[str, logging.Logger]):
    def __missing__(self, key: str) -> logging.Logger:
        return _log


def _calc_key(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    a = sha256(msg_key + auth_key[x : x + 36]).digest()
    b = sha256(auth_key[x + 40 : x + 76] + msg_key).digest()
    return a[:8] + b[8:24] + a[24:32], b[:8] + a[8:24] + b[24:32]


def key_id(key: bytes) -> int:
    """The auth key's id: the low 64 bits of its SHA-1, as both sides compute it."""
    return int(struct.unpack("<Q", sha1(key).digest()[-8:])[0])


# --------------------------------------------------------------------- client side


class ClientWire:
    """A client connection's half: Telethon's ``MTProtoState`` seals each request and
    opens each answer, as ``MTProtoSender`` does (gzip of bodies over 512 bytes and the
    time checks on the server's msg_ids included)."""

    def __init__(self, auth_key: AuthKey) -> None:
        self._state = MTProtoState(auth_key, _Loggers())

    @property
    def state(self) -> MTProtoState:
        """Telethon's state; ferryman swaps its class for one that skips gzip on parts."""
        return self._state

    def seal(self, data: bytes) -> tuple[int, bytes]:
        """(the message's msg_id, the encrypted message) for one request's TL bytes."""
        buffer = io.BytesIO()
        msg_id = self._state.write_data_as_message(buffer, data, True)
        return msg_id, self._state.encrypt_message_data(buffer.getvalue())

    def open(self, payload: bytes) -> bytes:
        """The TL result inside one encrypted ``rpc_result`` answer (trailing padding
        kept: a result reader stops at its own end)."""
        message = self._state.decrypt_message_data(payload)
        if message is None:
            raise Refused("the fake's answer was ignored (an old or repeated msg_id)")
        obj = message.obj
        if not isinstance(obj, RpcResult) or obj.body is None:
            raise Refused(f"the fake answered {type(obj).__name__}, not rpc_result")
        return bytes(obj.body)


# --------------------------------------------------------------------- server side


@dataclass(slots=True)
class Opened:
    """One request as the server read it."""

    key_id: int
    msg_id: int
    session_id: int
    body: bytes  # the TL request (ungzipped)


@dataclass(slots=True)
class Keys:
    """The auth keys the server knows, by id, and how many messages each way it sealed
    and opened (a test's proof that the wire was encrypted)."""

    known: dict[int, bytes] = field(default_factory=dict)
    opened: int = 0
    sealed: int = 0
    refused: int = 0
    _last_msg_id: int = 0
    _ids: threading.Lock = field(default_factory=threading.Lock)  # seals run on threads too

    def learn(self, key: bytes) -> int:
        """Keep ``key`` (told by a connecting client); its id."""
        kid = key_id(key)
        self.known[kid] = key
        return kid

    def open(self, payload: bytes) -> Opened:
        """Decrypt a client's message and check it (core.telegram.org/mtproto/security_guidelines):
        a known key id, ``msg_key`` equal to the plaintext's, 12-1024 bytes of padding."""
        try:
            opened = self._open(payload)
        except Refused:
            self.refused += 1
            raise
        self.opened += 1
        return opened

    def _open(self, payload: bytes) -> Opened:
        if len(payload) < 24 + 32 or (len(payload) - 24) % 16:
            raise Refused("a message too short or not whole blocks")
        (kid,) = struct.unpack_from("<Q", payload)
        key = self.known.get(kid)
        if key is None:
            raise Refused("an auth key id the server does not know (-404)")
        msg_key = payload[8:24]
        aes_key, aes_iv = _calc_key(key, msg_key, 0)
        plain: bytes = AES.decrypt_ige(payload[24:], aes_key, aes_iv)
        if sha256(key[88:120] + plain).digest()[8:24] != msg_key:
            raise Refused("msg_key does not match the plaintext: not this key")
        _salt, session_id, msg_id, _seq, length = struct.unpack_from("<qqqii", plain)
        padding = len(plain) - 32 - length
        if length < 0 or not 12 <= padding <= 1024:
            raise Refused("a message length or padding out of bounds")
        body = plain[32 : 32 + length]
        if body[:4] == _GZIP:
            with BinaryReader(body) as reader:
                body = GzipPacked.read(reader)
        return Opened(kid, msg_id, session_id, body)

    def seal(self, opened: Opened, result: bytes) -> bytes:
        """``rpc_result`` for ``opened`` holding ``result``, encrypted with the server's
        half of the key (x = 8), in a message Telethon's checks accept."""
        key = self.known[opened.key_id]
        inner = _RPC_RESULT + struct.pack("<q", opened.msg_id) + result
        data = struct.pack("<qqqii", 0, opened.session_id, self._msg_id(), 1, len(inner)) + inner
        padding = os.urandom(-(len(data) + 12) % 16 + 12)
        msg_key = sha256(key[96:128] + data + padding).digest()[8:24]
        aes_key, aes_iv = _calc_key(key, msg_key, 8)
        self.sealed += 1
        head = struct.pack("<Q", opened.key_id) + msg_key
        sealed: bytes = AES.encrypt_ige(data + padding, aes_key, aes_iv)
        return head + sealed

    def _msg_id(self) -> int:
        """A server msg_id for an answer: the wall clock's seconds << 32, = 1 mod 4, rising.
        Wall time on purpose: Telethon drops answers whose msg_id strays from its own
        ``time.time()`` by more than 30 s ahead or 300 s behind."""
        now = int(time.time() * 2**32)
        with self._ids:
            msg_id = max(now - now % 4 + 1, self._last_msg_id + 4)
            self._last_msg_id = msg_id
        return msg_id
