"""The FastAPI application: the page, ``/api/v1``, live events, downloads, health.

Everything it needs arrives in one ``Web`` object (store, tracker, stream, results,
uploads, signer, guard), made by ``web.server``; nothing here is global, so a test builds
one app per data dir.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferryman.errors import FerrymanError, spec_for
from ferryman.web import guard
from ferryman.web.live import Sent, Stream, Tracker, file_view, wanted
from ferryman.web.page import api_page, login_page, main_page
from ferryman.web.results import disposition, writable_with_space
from ferryman.web.schemas import JobRequest, PasswordRequest, SessionRequest, UploadRequest
from ferryman.web.signing import WHOLE_JOB, Signer

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.model import Job
    from ferryman.store import Store
    from ferryman.web.metrics import StageClock
    from ferryman.web.results import ResultsStore
    from ferryman.web.uploads import Uploads

API = "/api/v1"
JobId = Annotated[int, FastAPIPath(ge=1, le=2**63 - 1, description="The job's number.")]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'"
)

_STATUS = {
    "job.not_found": 404,
    "upload.not_found": 404,
    "source.duplicate": 409,
    "job.not_ended": 409,
    "job.already_ended": 409,
    "job.waiting_for_password": 409,
    "upload.offset": 409,
    "upload.incomplete": 409,
    "upload.too_large": 413,
    "link.expired": 410,
    "link.gone": 410,
    "link.tampered": 403,
    "link.blocked": 403,
    "results.bucket": 502,
    "auth.required": 401,
    "auth.csrf": 403,
    "rate.limited": 429,
    "request.invalid": 422,
    "engine.internal": 500,
}


def error_body(code: str, message: str) -> dict[str, Any]:
    spec = spec_for(code)
    return {
        "error": {
            "code": code,
            "message": message,
            "next": spec.next_step,
            "retryable": spec.retryable,
        }
    }


def error_response(exc: FerrymanError, headers: dict[str, str] | None = None) -> JSONResponse:
    status = _STATUS.get(exc.code, 400)
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


@dataclass(slots=True)
class Web:
    """What the app serves from; built by ``web.server.serve`` (or a test)."""

    settings: Settings
    store: Store
    stream: Stream
    tracker: Tracker
    results: ResultsStore
    uploads: Uploads
    signer: Signer
    tokens: guard.Tokens
    limiter: guard.RateLimiter
    engine_alive: Callable[[], bool] | None  # None: workers are other processes
    clock: StageClock | None = None  # stage durations, when the engine's bus is here

    async def links_of(self, job: Job) -> dict[str, Any]:
        """The job's files with links signed now (the tracker keeps them while they
        are young; ``POST …/links`` asks for new ones): presigned S3 URLs when the
        results are in a bucket, else ``/d/`` links to this server."""
        found = await self.results.files(job.id)
        expires = time.time() + min(self.settings.web.link_ttl, self.results.max_ttl)
        files = [
            file_view(
                f,
                self.results.direct_url(job.id, f, expires)
                or self.download_url(job.id, f.path, expires),
                expires,
            )
            for f in found
        ]
        whole = {"url": self.download_url(job.id, WHOLE_JOB, expires), "expires_at": expires}
        return {"files": files, "zip": whole if found else {}}

    def download_url(self, job_id: int, path: str, expires: float) -> str:
        return f"/d/{self.signer.sign(job_id, path, expires)}"


def create_app(web: Web) -> FastAPI:
    app = FastAPI(
        title="ferryman",
        summary="Archives, media files and links in; playable media out.",
        docs_url=None,  # served by _pages, without a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    static = resources.files("ferryman.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _errors(app)
    _middleware(app, web)
    _pages(app, web)
    _jobs(app, web)
    _uploads(app, web)
    _events(app, web)
    _downloads(app, web)
    _health(app, web)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FerrymanError)
    async def ferryman_error(_request: Request, exc: FerrymanError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return JSONResponse(error_body("request.invalid", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "request.invalid"
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )


def _middleware(app: FastAPI, web: Web) -> None:
    app.add_middleware(_Guard, web=web)


_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _Guard:
    """Tokens, rate limits and security headers, as plain ASGI: a download streams
    through untouched (an ``@app.middleware("http")`` wrapper copies every chunk
    through a queue, and measured a quarter slower on a 1 GiB file)."""

    def __init__(self, app: Any, web: Web) -> None:
        self.app = app
        self.web = web

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = list(_SECURITY_HEADERS)
        path: str = scope["path"]
        if scope["method"] not in _SAFE and _foreign(Request(scope)):
            refused = FerrymanError("auth.csrf", "a request from another site's page")
            await _send_error(send, error_response(refused), extra)
            return
        if path.startswith(API) and path != f"{API}/session":
            request = Request(scope)
            who, problem = _who(self.web, request)
            if problem is not None:
                await _send_error(send, error_response(problem), extra)
                return
            limiter = self.web.limiter
            allowed, remaining, reset = limiter.take(who)
            seconds = str(max(1, round(reset))).encode()
            extra += [
                (b"ratelimit-limit", str(limiter.limit).encode()),
                (b"ratelimit-remaining", str(remaining).encode()),
                (b"ratelimit-reset", seconds),
            ]
            if not allowed:
                limited = FerrymanError("rate.limited", f"over {limiter.limit} requests a minute")
                await _send_error(
                    send, error_response(limited), [*extra, (b"retry-after", seconds)]
                )
                return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in extra if h[0] not in have),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def _foreign(request: Request | WebSocket) -> bool:
    """Sent by a page of another site (its Origin names another host): a browser sends
    the user's cookies, and on loopback without tokens nothing else would stop it."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urllib.parse.urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


async def _send_error(send: Any, response: JSONResponse, extra: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": [*response.raw_headers, *extra],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


def _who(web: Web, request: Request | WebSocket) -> tuple[str, FerrymanError | None]:
    """The rate-limit key of an API request, or why it is refused."""
    client = request.client.host if request.client else "?"
    if not web.tokens.required:
        if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
            # Loopback without tokens trusts whoever connects; behind a proxy that is
            # everyone the proxy lets in.
            return f"addr:{client}", FerrymanError(
                "auth.required", "this server is behind a proxy: set web.tokens"
            )
        return f"addr:{client}", None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        if web.tokens.known(token):
            return guard.hash_token(token), None
        return f"addr:{client}", FerrymanError("auth.required", "the token is not known")
    session = request.cookies.get(guard.COOKIE)
    if session and _session_ok(web, session):
        method = getattr(request, "method", "GET")
        if method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(guard.CSRF_HEADER):
            return f"addr:{client}", FerrymanError("auth.csrf", "the page's header is missing")
        return f"session:{session[:16]}", None
    return f"addr:{client}", FerrymanError("auth.required", "log in with a token")


def _session_ok(web: Web, session: str) -> bool:
    try:
        grant = web.signer.check(session, time.time())
    except FerrymanError:
        return False
    if grant.job_id != 0 or not grant.path.startswith("session:"):
        return False
    return not web.tokens.required or web.tokens.still_listed(grant.path.removeprefix("session:"))


def _logged_in(web: Web, request: Request) -> bool:
    if not web.tokens.required:
        return True
    session = request.cookies.get(guard.COOKIE)
    return bool(session) and _session_ok(web, session or "")


def _pages(app: FastAPI, web: Web) -> None:
    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        if not _logged_in(web, request):
            return HTMLResponse(login_page())
        views = await web.tracker.views(limit=50)
        return HTMLResponse(main_page(views, telegram=bool(web.settings.telegram.api_id)))

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(api_page(app.openapi()))

    @app.post(f"{API}/session", status_code=204, tags=["session"])
    async def log_in(body: SessionRequest, request: Request) -> Response:
        """Log the page in with a token: an HttpOnly, SameSite=Strict cookie."""
        if web.tokens.required and not web.tokens.known(body.token):
            raise FerrymanError("auth.required", "the token is not known")
        who = guard.hash_token(body.token)[7:23]
        expires = time.time() + 7 * 86400
        response = Response(status_code=204)
        response.set_cookie(
            guard.COOKIE,
            web.signer.sign(0, f"session:{who}", expires),
            max_age=7 * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def _jobs(app: FastAPI, web: Web) -> None:
    from ferryman.engine import control, intake

    async def view(job_id: int) -> dict[str, Any]:
        return await web.tracker.detail(job_id)

    @app.post(f"{API}/jobs", status_code=202, tags=["jobs"])
    async def create(body: JobRequest) -> dict[str, Any]:
        """Start a job from a link or a finished upload."""
        profile = body.output.profile()
        dest = body.deliver.dest()
        upload = None
        if body.upload_id is not None:
            upload = web.uploads.finished(body.upload_id)
            source: str = str(upload.path)
        else:
            source = (body.source or "").strip()
            _only_links(source)
            if not web.settings.web.allow_private_links:
                allowed = web.settings.network.private_allowed
                await asyncio.to_thread(guard.check_link, _first_url(source), allowed)
        try:
            job = await intake.add_source(
                web.store,
                source,
                dest=dest,
                password=body.password,
                force=body.force,
                settings=web.settings,
                profile=profile,
            )
        except FerrymanError:
            if upload is not None:  # refused, nothing recorded: it would lie there for days
                await asyncio.to_thread(web.uploads.remove, upload.id)
            raise
        web.tracker.touch(job.id)
        return {
            "id": job.id,
            "status": job.state.value,
            "error": error_body(job.error_code, job.error_message or "")["error"]
            if job.error_code
            else None,
            "links": {"self": f"{API}/jobs/{job.id}", "events": f"{API}/events?jobs={job.id}"},
        }

    @app.get(f"{API}/jobs", tags=["jobs"])
    async def list_jobs(limit: int = 100) -> dict[str, Any]:
        return {"jobs": await web.tracker.views(limit=max(1, min(limit, 1000)))}

    @app.get(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    async def get_job(job_id: JobId) -> dict[str, Any]:
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/cancel", tags=["jobs"])
    async def cancel(job_id: JobId) -> dict[str, Any]:
        await control.cancel_job(web.store, job_id)
        web.tracker.touch(job_id)
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/retry", tags=["jobs"])
    async def retry(job_id: JobId) -> dict[str, Any]:
        await control.retry_job(web.store, job_id)
        web.tracker.touch(job_id)
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/password", tags=["jobs"])
    async def password(job_id: JobId, body: PasswordRequest) -> dict[str, Any]:
        await control.give_password(web.store, job_id, body.password)
        web.tracker.touch(job_id)
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/links", tags=["jobs"])
    async def links(job_id: JobId) -> dict[str, Any]:
        """New download links for the job's files (the old ones keep their expiry)."""
        job = await web.store.get_job(job_id)
        if not job.dest.startswith("link:"):
            raise FerrymanError("request.invalid", f"job {job_id} is not delivered as links")
        return await web.links_of(job)


_LINK_SCHEMES = ("http://", "https://", "dav://", "davs://", "torbox:", "media:")


def _only_links(source: str) -> None:
    """A web client names links, never paths on the server (those come as uploads)."""
    lowered = source.lower()
    if not lowered.startswith(_LINK_SCHEMES) and not lowered.startswith(("t.me/", "tg:")):
        raise FerrymanError(
            "link.invalid",
            "give a link (https://…, davs://…, torbox:…) or upload the file; paths on the"
            " server are not taken from the web",
        )


def _first_url(source: str) -> str:
    if source.lower().startswith("media:"):  # media:PROFILE:URL
        return source.split(":", 2)[2] if source.count(":") >= 2 else source
    return source


def _uploads(app: FastAPI, web: Web) -> None:
    @app.post(f"{API}/uploads", status_code=201, tags=["uploads"])
    async def create(body: UploadRequest) -> dict[str, object]:
        """Begin an upload; send its bytes with PUT and Content-Range."""
        upload = await asyncio.to_thread(web.uploads.create, body.name, body.size)
        return upload.view()

    @app.get(f"{API}/uploads/{{upload_id}}", tags=["uploads"])
    async def status(upload_id: str) -> dict[str, object]:
        return web.uploads.get(upload_id).view()

    @app.put(f"{API}/uploads/{{upload_id}}", tags=["uploads"])
    async def piece(upload_id: str, request: Request) -> dict[str, object]:
        """Append one piece (``Content-Range: bytes START-END/SIZE``)."""
        upload = await web.uploads.append(
            upload_id, request.headers.get("content-range"), request.stream()
        )
        return upload.view()


def _events(app: FastAPI, web: Web) -> None:
    async def catch_up(
        after: int, epoch: str | None, jobs: set[int] | None
    ) -> tuple[list[Sent], int]:
        """What a client that saw ``after`` (of ``epoch``) is missing, and the number
        it has seen then: a snapshot when the stream cannot tell."""
        seq = web.stream.seq  # read before any await: nothing published later is lost
        missed = web.stream.since(after, epoch)
        if missed is not None:
            return [m for m in missed if wanted(m, jobs)], seq
        views = web.tracker.snapshot()
        if views is None:
            views = await web.tracker.views()
        chosen = [v for v in views if jobs is None or v["id"] in jobs][:SNAPSHOT_JOBS]
        snapshot = {"type": "snapshot", "seq": seq, "epoch": web.stream.epoch, "jobs": chosen}
        return [Sent(seq, None, json.dumps(snapshot))], seq

    @app.websocket(f"{API}/events")
    async def websocket(socket: WebSocket) -> None:
        _, problem = _who(web, socket)
        if _foreign(socket):  # browsers allow any site to open a WebSocket here
            problem = FerrymanError("auth.csrf", "a connection from another site's page")
        if problem is not None:
            await socket.close(code=4401, reason=problem.code)
            return
        await socket.accept()
        web.stream.clients += 1
        try:
            hello = json.loads(await socket.receive_text())
            jobs = _job_set(hello.get("jobs"))
            last = int(hello.get("after") or 0)
            epoch = hello.get("epoch")
            sent_at = 0.0
            while not web.stream.closed:
                messages, last = await catch_up(last, epoch, jobs)
                epoch = web.stream.epoch
                if messages:
                    await socket.send_text(frame(messages))
                    sent_at = time.monotonic()
                await web.stream.wait_after(last, 15.0, jobs)
                wait = BATCH_SECONDS - (time.monotonic() - sent_at)
                if wait > 0 and web.stream.newer(last, jobs):  # busy: one frame for what comes
                    await asyncio.sleep(wait)
                if web.stream.seq == last and not web.stream.closed:
                    await socket.send_text(json.dumps({"type": "ping", "seq": last}))
            await socket.close(code=1001, reason="the server is stopping")  # going away
        except FerrymanError as exc:  # a malformed subscription
            await socket.close(code=4400, reason=exc.message[:120])
        except (WebSocketDisconnect, ValueError, TypeError, RuntimeError):
            pass
        finally:
            web.stream.clients -= 1

    @app.get(f"{API}/events", tags=["events"])
    async def server_sent(
        request: Request, jobs: str | None = None, after: int = 0, epoch: str | None = None
    ) -> StreamingResponse:
        """The same messages as the WebSocket, as Server-Sent Events (``id`` is
        ``epoch:seq``; ``Last-Event-ID`` on reconnect catches up)."""
        wanted_jobs = _job_set(jobs)
        last_id = request.headers.get("last-event-id")
        if last_id and ":" in last_id:
            epoch, _, seq = last_id.partition(":")
            after = int(seq) if seq.isdigit() else 0

        async def body() -> AsyncIterator[str]:
            web.stream.clients += 1
            last, era = after, epoch
            try:
                yield "retry: 1000\n\n"
                while not web.stream.closed and not await request.is_disconnected():
                    messages, last = await catch_up(last, era, wanted_jobs)
                    era = web.stream.epoch
                    if messages:
                        yield "".join(f"id: {era}:{m.seq}\ndata: {m.text}\n\n" for m in messages)
                    await web.stream.wait_after(last, 15.0, wanted_jobs)
                    if web.stream.seq == last and not web.stream.closed:
                        yield ": ping\n\n"
            finally:
                web.stream.clients -= 1

        return StreamingResponse(
            body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.get(f"{API}/events/poll", tags=["events"])
    async def poll(
        jobs: str | None = None, after: int = 0, epoch: str | None = None
    ) -> dict[str, Any]:
        """For clients with neither: what came after ``after`` (waits up to 10 s)."""
        wanted_jobs = _job_set(jobs)
        if web.stream.since(after, epoch) == []:
            await web.stream.wait_after(after, 10.0)
        messages, seq = await catch_up(after, epoch, wanted_jobs)
        return {
            "messages": [json.loads(m.text) for m in messages],
            "seq": seq,
            "epoch": web.stream.epoch,
        }


SNAPSHOT_JOBS = 200  # the newest jobs a snapshot holds
BATCH_SECONDS = 0.05  # a busy client gets a frame at most this often, with all that came


def frame(messages: list[Sent]) -> str:
    """One WebSocket frame: a message, or a JSON array of several."""
    if len(messages) == 1:
        return messages[0].text
    return "[" + ",".join(m.text for m in messages) + "]"


def _job_set(value: object) -> set[int] | None:
    """``all`` (or nothing): every job; else job ids, a list or ``1,2,3``."""
    if value in (None, "", "all"):
        return None
    parts = value if isinstance(value, list) else str(value).split(",")
    try:
        return {int(str(v).strip()) for v in parts if str(v).strip()}
    except ValueError:
        raise FerrymanError(
            "request.invalid", "jobs: 'all' or job numbers separated by commas"
        ) from None


def _downloads(app: FastAPI, web: Web) -> None:
    @app.get("/d/{token}", tags=["downloads"])
    @app.head("/d/{token}", include_in_schema=False)
    async def download(token: str) -> Response:
        """A signed download link: one file (Range requests work) or, for ``*``, the
        whole job as a zip made while it is sent."""
        grant = web.signer.check(token, time.time())
        if grant.job_id == 0:
            raise FerrymanError("link.tampered", "not a download link")
        if grant.path == WHOLE_JOB:
            kept = await web.results.files(grant.job_id)
            if not kept:  # said before any byte is sent
                raise FerrymanError("link.gone", f"job {grant.job_id} has no files kept")
            job = await web.store.get_job(grant.job_id)
            return StreamingResponse(
                web.results.zip_stream(grant.job_id, kept),
                media_type="application/zip",
                headers={"Content-Disposition": disposition(f"{job.name}.zip")},
            )
        path = await web.results.locate(grant.job_id, grant.path)
        if isinstance(path, str):  # in a bucket: fetched from there
            return RedirectResponse(path, status_code=307, headers={"Cache-Control": "no-store"})
        return FileResponse(
            path,
            headers={"Content-Disposition": disposition(path.name), "Cache-Control": "private"},
        )


def _health(app: FastAPI, web: Web) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Each thing a job needs, and which one fails."""
        checks = await readiness(web)
        ok = all(c["ok"] for c in checks.values())
        stuck = await web.tracker.stuck()
        body = {"ready": ok, "checks": checks, "stuck": stuck}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        return Response(await metrics_text(web), media_type="text/plain; version=0.0.4")


async def readiness(web: Web) -> dict[str, dict[str, Any]]:
    settings = web.settings
    checks: dict[str, dict[str, Any]] = {}

    async def check(name: str, probe: Callable[[], Awaitable[str]]) -> None:
        try:
            checks[name] = {"ok": True, "detail": await probe()}
        except Exception as exc:
            checks[name] = {"ok": False, "detail": str(exc) or type(exc).__name__}

    async def store() -> str:
        await asyncio.wait_for(web.store.idle(), 5)
        return "reachable"

    async def work_area() -> str:
        return await asyncio.to_thread(writable_with_space, settings.work_dir, settings.space_floor)

    async def media() -> str:
        return await asyncio.to_thread(_media_libraries)

    async def workers() -> str:
        if web.engine_alive is None:  # ferryman run workers: their heartbeats tell
            from ferryman.engine.nodes import ready_workers

            return await ready_workers(web.store, settings.lease_seconds)
        if not web.engine_alive():
            raise RuntimeError("the engine in this process has stopped")
        return "the engine runs in this process"

    async def results() -> str:
        return await web.results.check()

    for name, probe in (
        ("store", store),
        ("work_area", work_area),
        ("media", media),
        ("workers", workers),
        ("results", results),
    ):
        await check(name, probe)
    return checks


def _media_libraries() -> str:
    import av
    import yt_dlp

    av.codec.Codec("h264", "r")
    return f"PyAV {av.__version__}, yt-dlp {yt_dlp.version.__version__}"


async def metrics_text(web: Web) -> str:
    from ferryman.web.metrics import render

    figures = await web.store.figures()
    by_state: dict[str, int] = {}
    for (_, state), n in figures["jobs_by_source"].items():
        by_state[state] = by_state.get(state, 0) + n
    extra = {
        "queue_depth": sum(n for s, n in by_state.items() if s not in _ENDED),
        "event_clients": web.stream.clients,
        "results_bytes": await web.results.used_bytes(),
    }
    return render(figures, by_state, extra, web.clock)


_ENDED = ("done", "failed", "cancelled")
