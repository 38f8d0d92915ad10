"""Other data centres and the CDN (``faketg.dcs``): exporting an account's authorization
to another DC and importing it there, and the CDN's methods (core.telegram.org/cdn).

Rules enforced: an export names another DC than the caller's (``DC_ID_INVALID``); an
import is accepted once, on the DC it was exported for, with the same user id
(``AUTH_BYTES_INVALID``); ``upload.getCdnFile`` keeps ``upload.getFile``'s offset and
limit rules and answers on the CDN DC only; the master-DC methods need a token this DC
handed out (``FILE_TOKEN_INVALID``) and answer on a main DC only (``CDN_METHOD_INVALID``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.dcs import CDN, CDN_HASHES, MAIN, CdnEntry, cdn_bytes, hashes
from faketg.handlers.downloads import check_window
from faketg.sender import RpcFault
from faketg.tl import Vector, user_tl

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

# A public key as help.getCdnConfig lists one (the fake's CDN needs no key exchange).
_CDN_KEY = "-----BEGIN RSA PUBLIC KEY-----\nFAKE-CDN-KEY\n-----END RSA PUBLIC KEY-----"


async def export_authorization(server: FakeTelegram, call: Call, req: Any) -> Any:
    me = call.me()
    if req.dc_id not in MAIN or req.dc_id == call.dc:
        raise RpcFault(400, "DC_ID_INVALID")
    secret = os.urandom(32)
    server.dcs.exports[secret] = (me.id, req.dc_id)
    return types.auth.ExportedAuthorization(id=me.id, bytes=secret)


async def import_authorization(server: FakeTelegram, call: Call, req: Any) -> Any:
    exported = server.dcs.exports.get(req.bytes)
    if exported is None or exported != (req.id, call.dc):
        raise RpcFault(400, "AUTH_BYTES_INVALID")
    del server.dcs.exports[req.bytes]
    key = call.sender.auth_key.key_id
    if key is None:
        raise RpcFault(401, "AUTH_KEY_UNREGISTERED")
    account = server.accounts[req.id]
    server.authorize(key, account, call.dc)
    return types.auth.Authorization(user=user_tl(account, account))


async def get_cdn_config(server: FakeTelegram, call: Call, req: Any) -> Any:
    return types.CdnConfig(public_keys=[types.CdnPublicKey(dc_id=CDN, public_key=_CDN_KEY)])


def _entry(server: FakeTelegram, token: bytes) -> tuple[CdnEntry, bytes]:
    entry = server.dcs.tokens.get(token)
    media = server.media.get(entry.media_id) if entry is not None else None
    if entry is None or media is None:
        raise RpcFault(400, "FILE_TOKEN_INVALID")
    return entry, media.file.data


async def get_cdn_file(server: FakeTelegram, call: Call, req: Any) -> Any:
    check_window(req.offset, req.limit, precise=False)
    entry, data = _entry(server, req.file_token)
    if not entry.uploaded:
        token = os.urandom(16)
        entry.request_tokens.add(token)
        return types.upload.CdnFileReuploadNeeded(request_token=token)
    chunk = data[req.offset : req.offset + req.limit]
    server.dcs.cdn_parts += 1
    return types.upload.CdnFile(bytes=cdn_bytes(server, entry, chunk, req.offset))


async def reupload_cdn_file(server: FakeTelegram, call: Call, req: Any) -> Any:
    call.me()
    entry, data = _entry(server, req.file_token)
    if req.request_token not in entry.request_tokens:
        raise RpcFault(400, "REQUEST_TOKEN_INVALID")
    entry.request_tokens.discard(req.request_token)
    entry.uploaded = True
    server.dcs.cdn_media[entry.media_id] = False  # the CDN holds it now
    server.dcs.reuploads += 1
    return Vector(hashes(data, 0, CDN_HASHES))


async def get_cdn_file_hashes(server: FakeTelegram, call: Call, req: Any) -> Any:
    call.me()
    _found, data = _entry(server, req.file_token)
    return Vector(hashes(data, req.offset, CDN_HASHES))


HANDLERS: dict[type, Any] = {
    functions.auth.ExportAuthorizationRequest: export_authorization,
    functions.auth.ImportAuthorizationRequest: import_authorization,
    functions.help.GetCdnConfigRequest: get_cdn_config,
    functions.upload.GetCdnFileRequest: get_cdn_file,
    functions.upload.ReuploadCdnFileRequest: reupload_cdn_file,
    functions.upload.GetCdnFileHashesRequest: get_cdn_file_hashes,
}
