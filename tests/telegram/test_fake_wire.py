"""The fake Telegram's wire: MTProto 2.0 encryption both ways (the real Telethon client
seals every request with its auth key and the fake opens it), a wrong key refused, and
parts that expire and are counted when they come twice."""

from __future__ import annotations

import os

import pytest
from telethon import errors
from telethon.crypto import AuthKey
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.client import logged_in_client
from faketg.crypto import ClientWire, key_id

PART = 512 * 1024


async def test_requests_and_answers_travel_encrypted_and_are_read_back() -> None:
    server = FakeTelegram()
    me = server.add_user("Ann", username="ann")
    client = await logged_in_client(server, me)
    try:
        got = await client.get_me()
        assert got.id == me.id
        data = os.urandom(PART)
        await client(functions.upload.SaveBigFilePartRequest(7, 0, 30, data))
    finally:
        await client.disconnect()
    assert server.wire.opened >= 2 and server.wire.sealed >= 2 and server.wire.refused == 0
    key = client.session.auth_key.key
    assert server.wire.known[key_id(key)] == key
    # The plaintext part is not what travelled: the wire carries AES-IGE ciphertext.
    wire = ClientWire(AuthKey(key))
    _, sealed = wire.seal(bytes(functions.upload.SaveBigFilePartRequest(7, 1, 30, data)))
    assert data[:4096] not in sealed and len(sealed) >= PART
    opened = server.wire.open(sealed)
    assert data in opened.body  # and the fake reads it back whole


@pytest.mark.parametrize("forged", [False, True])
async def test_a_request_sealed_with_another_key_is_refused(forged: bool) -> None:
    """An unknown key id, or a known id with other key bytes (msg_key does not match):
    the fake reads nothing and closes the connection, as Telegram does."""
    server = FakeTelegram()
    me = server.add_user("Ann", username="ann")
    client = await logged_in_client(server, me)
    try:
        await client.get_me()
        before = dict(server.stats.requests)
        sender = client._sender
        other = AuthKey(os.urandom(256))
        if forged:
            other.key_id = sender.auth_key.key_id  # claims to be the session's key
        sender._wire = ClientWire(other)
        with pytest.raises(ConnectionError):
            await sender.send(functions.users.GetUsersRequest([types.InputUserSelf()]))
        assert server.wire.refused == 1
        assert server.stats.requests == before  # nothing was read, let alone handled
        assert not sender.is_connected()
    finally:
        await client.disconnect()


async def test_parts_expire_after_their_time_and_repeats_are_counted() -> None:
    now = [1000.0]
    server = FakeTelegram(clock=lambda: now[0])
    server.parts.ttl = 60.0
    me = server.add_user("Ann", username="ann")
    client = await logged_in_client(server, me)
    try:
        data = [os.urandom(PART) for _ in range(3)]
        for i, part in enumerate(data):
            await client(functions.upload.SaveBigFilePartRequest(9, i, 3, part))
        await client(functions.upload.SaveBigFilePartRequest(9, 1, 3, data[1]))  # again
        assert (server.parts.repeats, server.parts.repeated_bytes) == (1, PART)
        handle = types.InputFileBig(9, 3, "a.bin")
        media = types.InputMediaUploadedDocument(handle, "application/octet-stream", [])
        now[0] += 61  # past the parts' time: the upload is gone whole
        with pytest.raises(errors.FilePart0MissingError):
            await client(functions.messages.UploadMediaRequest(types.InputPeerSelf(), media))
        assert server.parts.expired == 1
        for i, part in enumerate(data):  # sent afresh, within their time: whole again
            await client(functions.upload.SaveBigFilePartRequest(9, i, 3, part))
        got = await client(functions.messages.UploadMediaRequest(types.InputPeerSelf(), media))
        stored = server.media[got.document.id].file
        assert stored.data == b"".join(data)
        assert server.parts.repeats == 4  # the same file id, every part once more
    finally:
        await client.disconnect()


def test_an_uploaded_photo_is_decoded_to_its_end_and_a_cut_one_refused() -> None:
    """The fake decodes a JPEG at an eighth of its size (cheaper), still through all its
    data: its own width and height, and a photo cut short is IMAGE_PROCESS_FAILED."""
    import io

    from PIL import Image

    from faketg.handlers.uploads import image_size
    from faketg.sender import RpcFault

    buffer = io.BytesIO()
    Image.effect_noise((1280, 960), 40).convert("RGB").save(buffer, "JPEG", quality=85)
    data = buffer.getvalue()
    assert image_size(data, load=True) == (1280, 960)
    for cut in (len(data) // 2, len(data) - 300):
        with pytest.raises(RpcFault) as refused:
            image_size(data[:cut], load=True)
        assert refused.value.message == "IMAGE_PROCESS_FAILED"
    assert image_size(data[: len(data) // 2], load=False) == (1280, 960)  # a header's look
