"""File parts go without Telethon's gzip attempt (``telegram/plain_parts.py``); every
other request is still written as Telethon writes it, and the fake reads both."""

from __future__ import annotations

import io
import os
from pathlib import Path

from telethon.crypto import AuthKey
from telethon.network.mtprotostate import MTProtoState
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.client import FakeDialer, logged_in_client
from faketg.crypto import _Loggers
from ferryman.telegram.plain_parts import PlainPartsState, plain_parts
from ferryman.telegram.upload import Uploader

PART = 512 * 1024


class _Sender:
    def __init__(self) -> None:
        self._state = MTProtoState(AuthKey(os.urandom(256)), _Loggers())


def _written(sender: _Sender, request: object) -> int:
    buffer = io.BytesIO()
    sender._state.write_data_as_message(buffer, bytes(request), True)  # type: ignore[arg-type]
    return len(buffer.getvalue())


def test_a_part_is_written_as_it_is_and_other_requests_as_telethon_writes_them() -> None:
    part = functions.upload.SaveBigFilePartRequest(1, 0, 3, b"\0" * PART)  # would gzip well
    text = functions.account.UpdateProfileRequest(about="a" * 4000)  # any other request
    telethon, ours = _Sender(), _Sender()
    plain_parts(ours)
    assert type(ours._state) is PlainPartsState
    assert _written(telethon, part) < PART // 10  # Telethon gzips it (then throws it away
    assert _written(ours, part) == len(bytes(part)) + 16  # for media); ours does not try
    assert _written(ours, text) == _written(telethon, text)  # gzipped by both


async def test_the_uploaders_connections_send_parts_plain_and_the_fake_reads_them(
    tmp_path: Path,
) -> None:
    server = FakeTelegram()
    me = server.add_user("Ann", phone="+15550001")
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    path = tmp_path / "zeros.bin"
    path.write_bytes(b"\0" * (3 * PART))
    uploader = Uploader(client, FakeDialer(server), connections=2)
    try:
        handle = await uploader.upload(path)
        lanes = uploader._pool._lanes
        assert lanes and all(type(lane.sender._state) is PlainPartsState for lane in lanes)
        assert server.network.bytes_up > 3 * PART  # not gzipped on the wire
        assert handle.parts == 3 and server.parts.received == 3
    finally:
        await uploader.close()
        await client.disconnect()
