"""A request's person: an administrator's ``web.tokens`` token or its session, a
person's own token, a person's session cookie (HttpOnly, SameSite=Strict), or the open
loopback page when there are neither tokens nor accounts (as before accounts). A
cookie's request that changes something needs the page's CSRF header, as before.

A session is held in the store (``sessions``), its cookie only a random key: signing
out, a password set anew (through any door), a removal end it at once, and a copy of
the cookie with it. ``Who.via`` names the credential (``t:TOKEN_ID``, ``s:SESSION_ID``)
for what is bound to it (``link_grants``, ``held``)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from fastapi import Request, WebSocket

from ferryman.errors import FerrymanError
from ferryman.web import guard
from ferryman.web.accounts.who import ADMIN, Who

if TYPE_CHECKING:
    from ferryman.store.accounts.sql import User
    from ferryman.web.core import Web

SESSION_SECONDS = 7 * 86400


def who_is(user: User, via: str = "") -> Who:
    return Who(user.id, user.name, user.admin, user.settings, via, user.tg_user_id)


async def new_session(web: Web, user: User | None, token: str | None = None) -> str:
    """A new session's cookie value (its hash is what the store keeps): ``user``'s, or
    (None) a server token's, ``token`` being a prefix of that token's hash."""
    key = secrets.token_urlsafe(32)
    expires = web.clock.now() + SESSION_SECONDS
    await web.store.add_session(guard.hash_token(key), user.id if user else None, token, expires)
    return key


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


async def _session(web: Web, key: str) -> Who | None:
    """The session's person while the store holds it (ended: signed out, a password set
    anew, a removal, its 7 days past)."""
    if len(key) > 128:
        return None  # no key this server gave
    found = await web.store.session(guard.hash_token(key))
    if found is None:
        return None
    if found.user is None:  # a server token's session: ends with the token's line
        listed = web.tokens.required and web.tokens.still_listed(found.token or "")
        return ADMIN if listed else None
    return who_is(found.user, f"s:{found.id}")


async def recheck(web: Web) -> int:
    """Every open stream's credential identified again now (``held``): those ended are
    told and woken; how many. The routes that end one call it, and the page's task."""

    async def ask(asker: Request | WebSocket) -> Who | None:
        _, who, problem = await identify(web, asker)
        return None if problem is not None else who

    return await web.held.check(ask, web.stream.wake)
