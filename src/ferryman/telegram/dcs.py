"""Where a file's bytes are read from: the account's DC, the DC that keeps the file, or
a CDN, as Telegram redirects (core.telegram.org/api/files, core.telegram.org/cdn).

``upload.getFile`` on the account's own DC may answer ``FILE_MIGRATE_X``: the file is
kept on DC X. The account's connections there (``SenderPool.at``) are opened once,
kept and reused for every later block and file: the first one gets a key of its own,
logged in by ``auth.exportAuthorization`` (home DC) and ``auth.importAuthorization``
(DC X), as Telethon's ``_create_exported_sender`` does; the others share that key
(``pool.DcDialer``). Every request says ``cdn_supported``: an answer
``upload.fileCdnRedirect`` sends the blocks to the CDN DC (``telegram/cdn``: decrypted,
each 128 KiB part checked against the master DC's SHA-256). ``cdnFileReuploadNeeded``
is answered by ``upload.reuploadCdnFile`` on the master DC; a part whose hash does not
match (or is not known) is never served: it is asked from the master DC, without the
CDN. A CDN token the master DC no longer accepts ends the CDN for that file.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.errors import FerrymanError
from ferryman.telegram.cdn import CdnFile

if TYPE_CHECKING:
    from ferryman.telegram.pool import SenderPool

log = logging.getLogger(__name__)

HOPS = 4  # redirects (another DC, a CDN, back) one request may follow
REUPLOADS = 2  # reuploadCdnFile rounds before the CDN is given up for a block


class FileWay:
    """One account's way to one file's bytes: where FILE_MIGRATE and CDN redirects led."""

    def __init__(self, client: Any, home: SenderPool) -> None:
        self.client = client
        self.home = home
        self.dc: int | None = None  # the DC that keeps the file, once told
        self.cdn: CdnFile | None = None
        self.cdn_ok = True  # False once the CDN's token was refused: the master DC only
        self.refused = 0  # CDN parts that failed their check (asked from the master DC)

    @property
    def master(self) -> SenderPool:
        return self.home if self.dc is None else self.home.at(self.dc)

    async def part(self, location: Any, offset: int, limit: int) -> bytes:
        """The file's ``limit`` bytes at ``offset`` (fewer at the end), checked."""
        for _hop in range(HOPS):
            cdn = self.cdn
            if cdn is not None:
                data = await self._from_cdn(cdn, location, offset, limit)
                if data is not None:
                    return data
                continue
            request = functions.upload.GetFileRequest(
                location, offset=offset, limit=limit, cdn_supported=self.cdn_ok or None
            )
            try:
                result = await _ask(self.client, self.master, request)
            except tg.FileMigrateError as exc:
                log.info("a file is kept on DC %s: reading it there", exc.new_dc)
                self.dc = exc.new_dc
                continue
            if isinstance(result, types.upload.FileCdnRedirect):
                if self.cdn is None:
                    self.cdn = CdnFile.of(result)
                continue
            return bytes(result.bytes)
        raise FerrymanError("telegram.download_failed", "Telegram kept sending the file elsewhere")

    async def _from_cdn(self, cdn: CdnFile, location: Any, offset: int, limit: int) -> bytes | None:
        """The CDN's bytes, decrypted and checked (a part that fails: the master DC's);
        None when the CDN is given up for this file."""
        pool = self.home.at(cdn.dc_id, cdn=True)
        for _round in range(REUPLOADS + 1):
            request = functions.upload.GetCdnFileRequest(cdn.token, offset=offset, limit=limit)
            try:
                result = await _ask(self.client, pool, request)
            except tg.BadRequestError as exc:
                if exc.message != "FILE_TOKEN_INVALID":
                    raise
                self._drop_cdn(cdn)
                return None
            if isinstance(result, types.upload.CdnFileReuploadNeeded):
                again = functions.upload.ReuploadCdnFileRequest(cdn.token, result.request_token)
                cdn.learn(await _ask(self.client, self.master, again))
                continue
            data = bytes(result.bytes)
            break
        else:
            raise FerrymanError("telegram.download_failed", "the CDN kept asking for the file")
        await self._hashes(cdn, offset, len(data))
        plain, bad = await asyncio.to_thread(cdn.open, offset, data)
        if bad is None:
            return plain
        self.refused += 1
        log.warning("the CDN sent a part at %s that fails its check: asking DC %s", bad, self.dc)
        request = functions.upload.GetFileRequest(location, offset=offset, limit=limit)
        result = await _ask(self.client, self.master, request)
        if isinstance(result, types.upload.FileCdnRedirect):
            said = f"the CDN's part at offset {bad} failed its check, and no other way was given"
            raise FerrymanError("telegram.cdn_bad_part", said)
        return bytes(result.bytes)

    async def _hashes(self, cdn: CdnFile, offset: int, length: int) -> None:
        """Ask the master DC for the hashes of the parts in range still unknown."""
        while (at := cdn.missing(offset, length)) is not None:
            request = functions.upload.GetCdnFileHashesRequest(cdn.token, offset=at)
            if not cdn.learn(await _ask(self.client, self.master, request)):
                return  # none came: those parts fail their check

    def _drop_cdn(self, cdn: CdnFile) -> None:
        log.info("the CDN's token was refused: reading the file from its DC")
        if self.cdn is cdn:
            self.cdn = None
        self.cdn_ok = False


async def _ask(client: Any, pool: SenderPool, request: Any) -> Any:
    """``request`` on the least busy connection of ``pool`` (a dropped one is replaced)."""
    lane, sender = await pool.acquire()
    try:
        return await client._call(sender, request, flood_sleep_threshold=0)
    except (TimeoutError, ConnectionError, OSError):
        pool.broken(lane, sender)
        raise
    finally:
        pool.release(lane)
