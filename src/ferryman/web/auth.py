"""Who may use the API and how often: tokens or a page's session cookie, a request from
another site's page refused, a rate limit per caller, security headers on every answer,
as plain ASGI (a download streams through untouched)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response

from ferryman.errors import FerrymanError
from ferryman.web import guard
from ferryman.web.accounts.identify import SESSION_SECONDS, identify, new_session, signed_in
from ferryman.web.accounts.who import SCOPE_KEY
from ferryman.web.core import API, Web, error_response
from ferryman.web.core import send_error as _send_error
from ferryman.web.hosts import HostGuard, own_names
from ferryman.web.limits import BodyLimit
from ferryman.web.result_files import ResultFile
from ferryman.web.schemas import SessionRequest

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'"
)


def install(app: FastAPI, web: Web) -> None:
    """The guards before every route, outermost first: the Host name (``hosts``), tokens
    and rate limits (``_Guard``), the body's size (``limits``); and ``POST
    /api/v1/session`` (a page's log-in)."""

    app.add_middleware(BodyLimit, piece=int(web.settings.web.max_piece))
    app.add_middleware(_Guard, web=web)
    names = own_names(web.settings.web.host, web.settings.web.public_url)
    app.add_middleware(HostGuard, names=names, enabled=not web.tokens.required)
    _session(app, web)


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _Guard:
    """Tokens, rate limits and security headers, as plain ASGI: a download streams
    through untouched (an ``@app.middleware("http")`` wrapper copies every chunk
    through a queue: slower on a big file)."""

    def __init__(self, app: Any, web: Web) -> None:
        self.app = app
        self.web = web
        self.csp = (b"content-security-policy", csp_for(web).encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = [self.csp, *_SECURITY_HEADERS]
        path: str = scope["path"]
        if scope["method"] not in _SAFE and foreign(Request(scope)):
            refused = FerrymanError("auth.csrf", "a request from another site's page")
            await _send_error(send, error_response(refused), extra)
            return
        if (path.startswith(API) and not _signing_in(path)) or path in TOKEN_ONLY:
            request = Request(scope)
            who, person, problem = await identify(self.web, request)
            scope[SCOPE_KEY] = person
            if problem is None and path == "/metrics" and not person.admin:  # everyone's
                problem = FerrymanError("account.forbidden", "for administrators only")
            if problem is not None:
                await _send_error(send, error_response(problem), extra)
                return
            method = scope["method"]
            if _own_upload(method, path) or _event_stream(method, path):  # no budget
                await self.app(scope, receive, send_with(send, extra))
                return
            limiter = self.web.limiter
            allowed, remaining, reset = limiter.take(who, self.web.clock.monotonic())
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

        await self.app(scope, receive, send_with(send, extra))


def send_with(send: Any, extra: list[tuple[bytes, bytes]]) -> Any:
    """``send``, adding ``extra`` headers the response does not set itself."""

    async def with_headers(message: Any) -> None:
        if message["type"] == "http.response.start":
            have = {name.lower() for name, _ in message.get("headers", [])}
            message["headers"] = [
                *message.get("headers", []),
                *(h for h in extra if h[0] not in have),
            ]
        await send(message)

    return with_headers


def _signing_in(path: str) -> bool:
    """The log-in routes (a token's, a password's, a passkey's, the sign-out): answered
    before anyone is known; a password's and a passkey's count against the address's
    budget in their route (``accounts.routes``)."""
    return path == f"{API}/session" or path.startswith(f"{API}/session/")


_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_UPLOAD = re.compile(rf"^{API}/uploads/[^/]+$")


def _own_upload(method: str, path: str) -> bool:
    """A piece of an upload, or the look at where it stands (its recovery): outside the
    per-minute budget. An upload of 2.4 GB is 300 pieces; counted with the rest it died
    at 429 mid-file, its recovery refused too. Each is still a caller's (token or
    session), and a piece's body is capped (``limits``); starting an upload counts."""
    return method in ("PUT", "GET", "HEAD") and _UPLOAD.match(path) is not None


def _event_stream(method: str, path: str) -> bool:
    """Opening the Server-Sent Events stream: a connection held open, not a request a
    minute, and outside the budget as a WebSocket always was. Counted, 200 page tabs or
    scripts on one address spent it, and the job one of them then added was answered 429
    with ``Retry-After: 57``: issue 56's "58 s instead of 0.7 s" (the job itself took
    0.7 s). Still the caller's own (token or session); the long poll counts."""
    return method == "GET" and path == f"{API}/events"


# Outside /api/v1 yet behind the token: what the server runs, counts and exposes.
# /healthz and /readyz's bare verdict stay open (a load balancer or a probe has no token).
TOKEN_ONLY = frozenset({"/metrics", "/api/openapi.json", "/api/docs"})


def csp_for(web: Web) -> str:
    """``CSP``, with the results bucket's origin allowed for pictures and media when
    files are served from there (presigned URLs): the gallery shows and plays them."""

    direct = web.results.direct_url(0, ResultFile("-", "-", 0, "-"), web.clock.now() + 60)
    if direct is None:
        return CSP
    parts = urllib.parse.urlsplit(direct)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CSP.replace("img-src 'self'", f"img-src 'self' {origin}").replace(
        "media-src 'self'", f"media-src 'self' {origin}"
    )


def foreign(request: Request | WebSocket) -> bool:
    """Sent by a page of another site (its Origin names another host): a browser sends
    the user's cookies, and on loopback without tokens nothing else would stop it."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urllib.parse.urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


async def caller(web: Web, request: Request | WebSocket) -> tuple[str, FerrymanError | None]:
    """The rate-limit key of an API request, or why it is refused (``accounts.identify``:
    a token, an administrator's or a person's session, or the open loopback page)."""
    key, _, problem = await identify(web, request)
    return key, problem


async def logged_in(web: Web, request: Request) -> bool:
    return await signed_in(web, request)


def _session(app: FastAPI, web: Web) -> None:
    @app.post(f"{API}/session", status_code=204, tags=["session"])
    async def log_in(body: SessionRequest, request: Request) -> Response:
        """Log the page in with a token: an HttpOnly, SameSite=Strict cookie."""
        if (web.tokens.required or await web.book.active(web.store)) and not web.tokens.known(
            body.token
        ):
            raise FerrymanError("auth.required", "the token is not known")
        who = guard.hash_token(body.token)[7:23]  # ends when the token's line goes
        response = Response(status_code=204)
        response.set_cookie(
            guard.COOKIE,
            await new_session(web, None, who),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response
