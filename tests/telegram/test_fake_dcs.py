"""The fake's data centres and CDN, as Telegram documents them, with the real Telethon:
``FILE_MIGRATE_X`` for a file kept elsewhere, an authorization exported and imported
once on the DC it was made for, a key good on its own DC only, and a CDN that sends
AES-256-CTR bytes (checked here with an independent cipher) for a token, and nothing
else."""

from __future__ import annotations

import hashlib
import os

import pytest
from Cryptodome.Cipher import AES
from Cryptodome.Util import Counter
from telethon import errors
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.client import FakeDialer, logged_in_client
from faketg.dcs import CDN, CDN_PART, put_on_cdn
from faketg.people import stored_document

MIB = 1024 * 1024


def _location(media: object) -> types.InputDocumentFileLocation:
    return types.InputDocumentFileLocation(
        media.id,  # type: ignore[attr-defined]
        media.access_hash,  # type: ignore[attr-defined]
        media.file_reference,  # type: ignore[attr-defined]
        "",
    )


async def test_a_file_on_another_dc_is_read_there_after_importing_the_authorization() -> None:
    server = FakeTelegram()
    me = server.add_user("Ann")
    far = server.add_user("Far", dc_id=4)
    data = os.urandom(300_000)
    media = stored_document(server, far, data, "far.bin", "application/zip")
    assert media.dc_id == media.tl.dc_id == 4  # kept where its uploader lives
    client = await logged_in_client(server, me)
    dialer = FakeDialer(server)
    try:
        ask = functions.upload.GetFileRequest(_location(media), 0, MIB)
        with pytest.raises(errors.FileMigrateError) as moved:
            await client(ask)
        assert moved.value.new_dc == 4
        there = await dialer.open_dc_sender(client, 4, None)
        with pytest.raises(errors.AuthKeyUnregisteredError):  # a new key: nobody yet
            await client._call(there, ask)
        with pytest.raises(errors.DcIdInvalidError):  # not to its own DC
            await client(functions.auth.ExportAuthorizationRequest(2))
        auth = await client(functions.auth.ExportAuthorizationRequest(4))
        imported = functions.auth.ImportAuthorizationRequest(auth.id, auth.bytes)
        await client._call(there, imported)
        got = await client._call(there, ask)
        assert bytes(got.bytes) == data
        with pytest.raises(errors.AuthBytesInvalidError):  # good once
            await client._call(there, imported)
        # The DC 4 key is no key on DC 2 (a key belongs to its own DC).
        home = await dialer.open_dc_sender(client, 2, there.auth_key)
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await client._call(home, ask)
        for sender in (there, home):
            await sender.disconnect()
    finally:
        await client.disconnect()


async def test_the_cdn_sends_ctr_encrypted_parts_matching_the_master_dcs_hashes() -> None:
    server = FakeTelegram()
    me = server.add_user("Ann")
    data = os.urandom(MIB + 5000)
    media = stored_document(server, me, data, "c.bin", "application/zip")
    put_on_cdn(server, media)
    client = await logged_in_client(server, me)
    try:
        plain = await client(functions.upload.GetFileRequest(_location(media), 0, MIB))
        assert bytes(plain.bytes) == data[:MIB]  # without cdn_supported: the bytes
        ask = functions.upload.GetFileRequest(_location(media), 0, MIB, cdn_supported=True)
        redirect = await client(ask)
        assert isinstance(redirect, types.upload.FileCdnRedirect) and redirect.dc_id == CDN
        assert [h.offset for h in redirect.file_hashes] == [n * CDN_PART for n in range(8)]
        cdn = await FakeDialer(server).open_dc_sender(client, CDN, None, cdn=True)
        with pytest.raises(errors.CdnMethodInvalidError):
            await client._call(cdn, ask)  # the CDN serves getCdnFile alone
        at = MIB
        got = await client._call(
            cdn, functions.upload.GetCdnFileRequest(redirect.file_token, at, MIB)
        )
        # The IV's last 4 bytes are offset / 16: the counter as it stands at ``at``.
        iv = redirect.encryption_iv[:12] + (at // 16).to_bytes(4, "big")
        counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
        opened = AES.new(redirect.encryption_key, AES.MODE_CTR, counter=counter).decrypt(got.bytes)
        assert opened == data[at:] and bytes(got.bytes) != data[at:]
        [tail] = await client(functions.upload.GetCdnFileHashesRequest(redirect.file_token, at))
        assert (tail.offset, tail.limit) == (at, 5000)
        assert tail.hash == hashlib.sha256(data[at:]).digest()
        with pytest.raises(errors.CdnMethodInvalidError):  # master DC only
            await client(functions.upload.GetCdnFileRequest(redirect.file_token, 0, MIB))
        with pytest.raises(errors.RPCError, match="FILE_TOKEN_INVALID"):
            await client._call(cdn, functions.upload.GetCdnFileRequest(b"nope", 0, MIB))
        await cdn.disconnect()
    finally:
        await client.disconnect()
