"""A request's person: an administrator's ``web.tokens`` token or its session, a
person's own token, a person's session cookie (HttpOnly, SameSite=Strict, signed, and
tied to their password: a reset ends it), or the open loopback page when there are
neither tokens nor accounts (as before accounts). A cookie's request that changes
something needs the page's CSRF header, as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request, WebSocket

from ferryman.errors import FerrymanError
from ferryman.web import guard
from ferryman.web.accounts import passwords
from ferryman.web.accounts.who import ADMIN, Who

if TYPE_CHECKING:
    from ferryman.store.accounts.sql import User
    from ferryman.web.core import Web

USER_SESSION = "user:"  # a person's session grant: ``user:ID:STAMP``
SESSION_SECONDS = 7 * 86400


def who_is(user: User, via: str = "") -> Who:
    return Who(user.id, user.name, user.admin, user.settings, via)


def session_path(user: User) -> str:
    return f"{USER_SESSION}{user.id}:{passwords.stamp(user.password_hash)}"


async def signed_in(web: Web, request: Request | WebSocket) -> bool:
    """Whether the page is for this request (else its sign-in form)."""
    _, _, problem = await identify(web, request)
    return problem is None


async def required(web: Web) -> bool:
    """Whether a request must say who it is: tokens set, or accounts made."""
    return web.tokens.required or await web.book.active(web.store)


async def identify(web: Web, request: Request | WebSocket) -> tuple[str, Who, FerrymanError | None]:
    """(the rate limit's key, who asks, why it is refused or None)."""
    client = request.client.host if request.client else "?"
    anon = f"addr:{client}"
    if not await required(web):
        if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
            return (
                anon,
                ADMIN,
                FerrymanError("auth.required", "this server is behind a proxy: set web.tokens"),
            )
        return anon, ADMIN, None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        hashed = guard.hash_token(token)
        if web.tokens.known(token):
            return hashed, ADMIN, None
        user = await web.store.user_of_token(hashed)
        token_id = await web.store.user_token_id(hashed) if user is not None else None
        if user is not None:
            return f"user:{user.id}", who_is(user, f"t:{token_id}"), None
        return anon, ADMIN, FerrymanError("auth.required", "the token is not known")
    session = request.cookies.get(guard.COOKIE) or ""
    who = await _session(web, session) if session else None
    if who is None:
        return anon, ADMIN, FerrymanError("auth.required", "sign in, or send a token")
    method = getattr(request, "method", "GET")
    if method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(guard.CSRF_HEADER):
        return anon, ADMIN, FerrymanError("auth.csrf", "the page's header is missing")
    key = f"user:{who.account}" if who.account is not None else f"session:{session[:16]}"
    return key, who, None


async def _session(web: Web, session: str) -> Who | None:
    try:
        grant = web.signer.check(session, web.clock.now())
    except FerrymanError:
        return None
    if grant.job_id != 0:
        return None  # a download link is no session
    if grant.path.startswith("session:"):  # an administrator's token's session
        prefix = grant.path.removeprefix("session:")
        return ADMIN if web.tokens.required and web.tokens.still_listed(prefix) else None
    if not grant.path.startswith(USER_SESSION):
        return None
    number, _, stamp = grant.path.removeprefix(USER_SESSION).partition(":")
    user = await web.store.user(int(number)) if number.isdigit() else None
    if user is None or passwords.stamp(user.password_hash) != stamp:
        return None  # removed, or its password was set anew since
    return who_is(user, f"p:{stamp}")
