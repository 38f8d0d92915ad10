"""What every part of the web app shares: ``Web`` (everything it serves from), the API's
prefix and how an error becomes a response (its code's status, message and next step).

Everything the app needs arrives in one ``Web`` object (store, tracker, stream, results,
uploads, signer, guard, the registries), made by ``web.server``; nothing is global, so a
test builds one app per data dir.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Path as FastAPIPath
from fastapi.responses import JSONResponse

from ferryman.clock import SYSTEM, Clock
from ferryman.errors import FerrymanError, page_step, spec_for
from ferryman.media.box.pool import IN_PROCESS, Decoder
from ferryman.model import MAX_ROW_ID
from ferryman.sinks.base import SinkRegistry, SinkState
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.telegram_files import in_telegram, kind_of_mime, telegram_links
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.web import guard
from ferryman.web.accounts.book import AccountBook
from ferryman.web.accounts.held import Held
from ferryman.web.accounts.link_grants import bind_for
from ferryman.web.file_views import file_view
from ferryman.web.live import Tracker
from ferryman.web.result_files import ResultFile
from ferryman.web.results import ResultsStore
from ferryman.web.signing import WHOLE_JOB, Signer
from ferryman.web.stream import Stream

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.model import Job
    from ferryman.resources import Shared
    from ferryman.store.ports import WebDoor
    from ferryman.web.accounts.who import Who
    from ferryman.web.metrics import StageClock
    from ferryman.web.telegram_links import TelegramStreams
    from ferryman.web.uploads import Uploads

API = "/api/v1"
JobId = Annotated[int, FastAPIPath(ge=1, le=MAX_ROW_ID, description="The job's number.")]
TokenId = Annotated[int, FastAPIPath(ge=1, le=MAX_ROW_ID, description="The token's number.")]

_STATUS = {
    "job.not_found": 404,
    "watch.not_found": 404,
    "upload.not_found": 404,
    "source.duplicate": 409,
    "job.not_ended": 409,
    "job.already_ended": 409,
    "job.waiting_for_password": 409,
    "upload.offset": 409,
    "upload.incomplete": 409,
    "upload.too_large": 413,
    "request.too_large": 413,
    "request.timeout": 408,
    "web.host_unknown": 421,
    "link.expired": 410,
    "link.gone": 410,
    "link.revoked": 410,
    "link.tampered": 403,
    "link.range": 416,
    "telegram.download_failed": 502,
    "telegram.connection": 502,
    "link.blocked": 403,
    "results.bucket": 502,
    "auth.required": 401,
    "auth.csrf": 403,
    "account.sign_in": 401,
    "account.exists": 409,
    "account.not_found": 404,
    "account.token_not_found": 404,
    "account.forbidden": 403,
    "account.not_linked": 403,
    "account.source_forbidden": 403,
    "account.dest_forbidden": 403,
    "account.limit_jobs": 429,
    "account.limit_bytes": 429,
    "account.limit_results": 409,
    "account.passkey": 401,
    "account.link_code": 400,
    "rate.limited": 429,
    "request.invalid": 422,
    "rclone.unknown_remote": 404,
    "rclone.no_conf": 403,
    "rclone.conn_refused": 403,
    "rclone.conf_refused": 422,
    "rclone.conf_invalid": 422,
    "engine.internal": 500,
}


def error_body(code: str, message: str) -> dict[str, Any]:
    spec = spec_for(code)
    return {
        "error": {
            "code": code,
            "message": message,
            "next": page_step(code),  # the web's words: buttons, never a shell command
            "retryable": spec.retryable,
        }
    }


def error_response(exc: FerrymanError, headers: dict[str, str] | None = None) -> JSONResponse:
    status = _STATUS.get(exc.code, 400)
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


async def send_error(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    response: JSONResponse,
    extra: list[tuple[bytes, bytes]],
) -> None:
    """``response`` sent through plain ASGI (a guard that answers before any route)."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [*response.raw_headers, *extra],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


@dataclass(slots=True)
class Web:
    """What the app serves from; built by ``web.server.serve`` (or a test)."""

    settings: Settings
    store: WebDoor
    stream: Stream
    tracker: Tracker
    results: ResultsStore
    uploads: Uploads
    signer: Signer
    tokens: guard.Tokens
    limiter: guard.RateLimiter
    engine_alive: Callable[[], bool] | None  # None: workers are other processes
    stage_times: StageClock | None = None  # stage durations, when the engine's bus is here
    # Link signing and expiry, sessions, the rate limit, the sweeps (``ferryman.clock``).
    clock: Clock = SYSTEM
    # The kinds of input and destination the API accepts: the engine's registries.
    sources: SourceRegistry = field(default_factory=default_sources)
    sinks: SinkRegistry = field(default_factory=default_sinks)
    book: AccountBook = field(default_factory=AccountBook)  # whether accounts are in use
    held: Held = field(default_factory=Held)  # open streams' credentials, checked again
    # Where a library file's preview is decoded: confined workers (``web.server``), so a
    # hostile file in a person's library never hangs or takes down the page's process.
    decoder: Decoder = IN_PROCESS
    # Files jobs sent to Telegram, read from there for their links (``web/telegram_links``).
    telegram: TelegramStreams | None = None

    @property
    def resources(self) -> Shared | None:
        """The engine's shared resources, where its Telegram client is (whose a chat a
        person names is: ``ops/who.own_place``); None: a web without them."""
        return self.telegram.shared if self.telegram is not None else None

    async def links_of(self, job: Job, who: Who | None = None) -> dict[str, Any]:
        """The job's files with links signed now (the tracker keeps them while they
        are young; ``POST …/links`` asks for new ones, bound to who asks, too): presigned
        S3 URLs when the results are in a bucket, else ``/d/`` links to this server."""
        if in_telegram(job.dest, self.sinks):
            return await self._telegram_links(job, who)
        found = await self.results.files(job.id)
        expires = self.clock.now() + min(self.settings.web.link_ttl, self.results.max_ttl)
        bind = bind_for(job.account, who)
        files = [
            file_view(
                f,
                self.results.direct_url(job.id, f, expires)
                or self.download_url(job.id, f.path, expires, bind),
                expires,
                self._preview_url(job.id, f, expires, bind),
            )
            for f in found
        ]
        whole = {
            "url": self.download_url(job.id, WHOLE_JOB, expires, bind),
            "expires_at": expires,
        }
        return {
            "files": files,
            "zip": whole if found else {},
            "files_total": len(files),  # a view carries a page; the page's summary tells all
            "bytes_total": sum(f.size for f in found),
        }

    async def _telegram_links(self, job: Job, who: Who | None) -> dict[str, Any]:
        """A Telegram job's documents, each a ``/d/`` link read from Telegram when it is
        opened (``web/telegram_links``): signed, bound and expiring as a result's. A
        job sent before its files were recorded has them read back from its messages
        first, once (``sinks/telegram_backfill``)."""
        state = self.store.sink_state("telegram")
        if self.telegram is not None:
            await self._backfill(job, state)
        kept = await telegram_links(state, job.id)
        expires = self.clock.now() + self.settings.web.link_ttl
        bind = bind_for(job.account, who)
        files = [
            file_view(
                ResultFile(f.path, f.name, f.size, f.mime, kind_of_mime(f.mime)),
                self.download_url(job.id, f.path, expires, bind),
                expires,
            )
            for f in kept
        ]
        return {
            "files": files,
            "zip": {},
            "files_total": len(files),
            "bytes_total": sum(f.size for f in kept),
        }

    async def _backfill(self, job: Job, state: SinkState) -> None:
        """Link records for the job's files sent before they were kept, read back from
        Telegram (``sinks/telegram_backfill``); a failure leaves the links as kept."""
        from ferryman.sinks import telegram_backfill  # lazy: start-up (Telethon)
        from ferryman.telegram.accounts import account_pool  # lazy: start-up

        chat = telegram_backfill.chat_of(job.dest)
        if chat is None or self.telegram is None:
            return
        records = await state.records(job.id)
        if not telegram_backfill.unrecorded(records):
            return  # every send recorded, or read back before: nothing to ask
        try:
            items = await self.store.job_items(job.id)
            pool = account_pool(self.telegram.shared)
            await telegram_backfill.backfill(state, job, chat, records, items, pool)
        except Exception as exc:  # the links kept are still given
            log.warning("job %d: files sent before links were kept not read: %s", job.id, exc)

    def _preview_url(self, job_id: int, file: ResultFile, expires: float, bind: str) -> str | None:
        """The file's preview, signed as the file is (its own path in the token)."""
        if file.preview is None:
            return None
        shown = ResultFile(file.preview, f"{file.name}.webp", 0, "image/webp")
        direct = self.results.direct_url(job_id, shown, expires)
        return direct or self.download_url(job_id, file.preview, expires, bind)

    def download_url(self, job_id: int, path: str, expires: float, bind: str = "") -> str:
        return f"/d/{self.signer.sign(job_id, path, expires, bind)}"
