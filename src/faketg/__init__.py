"""A protocol-level fake of Telegram's servers, for tests and benchmarks.

The real Telethon client runs against it: :class:`FakeSender` replaces the client's
MTProto sender, and :class:`FakeTelegram` answers every TL request from its bytes. See
``client.py`` for making a client or a ferryman dialer that talks to it.
"""

from faketg.network import LinkModel
from faketg.sender import FakeSender, RpcFault
from faketg.server import FakeTelegram, Hold

__all__ = ["FakeSender", "FakeTelegram", "Hold", "LinkModel", "RpcFault"]
