"""The accounts' routes: sign in with a password (a session cookie as a token's), sign
out; a person's own view (``/me``: settings, API tokens shown once and revocable, a
Telegram link code); the administrators' (people added, reset, removed, their limits,
the audit). Every administrator's action and every sign-in is audited."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ferryman.errors import FerrymanError
from ferryman.store.accounts.sql import User
from ferryman.web import guard
from ferryman.web.accounts import defaults, passwords
from ferryman.web.accounts.identify import SESSION_SECONDS, new_session, recheck, required
from ferryman.web.accounts.limits import LIMITS, PERSONAL
from ferryman.web.accounts.removal import forget_person
from ferryman.web.accounts.who import Me, Who, require_admin
from ferryman.web.core import API, TokenId, Web

LINK_CODE_SECONDS = 600.0
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., pattern=_NAME)
    password: str = Field(..., min_length=passwords.MIN_LENGTH, max_length=1024)
    admin: bool = False


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(..., min_length=passwords.MIN_LENGTH, max_length=1024)


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field("token", min_length=1, max_length=100)


class Settings(BaseModel):
    """A person's own choices; ``limits`` only an administrator sets."""

    model_config = ConfigDict(extra="forbid")
    dest: str | None = Field(None, max_length=1024)
    quality: str | None = Field(None, max_length=16)
    audio: str | None = Field(None, max_length=16)
    limits: dict[str, int] | None = None
    library: str | None = Field(None, max_length=4096)  # an administrator's: a folder
    notify: str | None = Field(None, max_length=4096)  # where their jobs' notices go


def address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def set_session(response: Response, web: Web, request: Request, user: User) -> None:
    """A new session for ``user``, held in the store, its key in the cookie."""
    response.set_cookie(
        guard.COOKIE,
        await new_session(web, user),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "admin": user.admin,
        "settings": user.settings,
        "telegram": user.tg_user_id is not None,
        "created_at": user.created_at,
    }


def routes(app: FastAPI, web: Web) -> None:
    async def audit(who: Who | str, action: str, target: str, request: Request) -> None:
        actor = who if isinstance(who, str) else who.name
        await web.store.add_audit(actor, action, target, address(request))

    async def named(name: str) -> User:
        user = await web.store.user_named(name)
        if user is None:
            raise FerrymanError("account.not_found", f"there is no account {name!r}")
        return user

    @app.post(f"{API}/session/password", status_code=204, tags=["session"])
    async def sign_in(body: SignIn, request: Request) -> Response:
        """Sign in with a name and a password: the page's session cookie (HttpOnly,
        SameSite=Strict), as a token's. Counted against the address's budget."""
        allowed, _, reset = web.limiter.take(f"sign-in:{address(request)}", web.clock.monotonic())
        if not allowed:
            raise FerrymanError("rate.limited", f"too many sign-ins: wait {round(reset)} s")
        user = await web.store.user_named(body.name)
        stored = user.password_hash if user is not None else None
        if not await passwords.checked(stored, body.password) or user is None:
            await audit(body.name, "sign_in.refused", body.name, request)
            raise FerrymanError("account.sign_in", "the name or the password is wrong")
        await audit(user.name, "sign_in", "password", request)
        response = Response(status_code=204)
        await set_session(response, web, request, user)
        return response

    @app.delete(f"{API}/session", status_code=204, tags=["session"])
    async def sign_out(request: Request) -> Response:
        """Sign out: the session ends here (a copy of its cookie no longer works) and
        the streams opened with it close."""
        key = request.cookies.get(guard.COOKIE) or ""
        if key and len(key) <= 128 and await web.store.end_session(guard.hash_token(key)):
            await recheck(web)
        response = Response(status_code=204)
        response.delete_cookie(guard.COOKIE)
        return response

    @app.get(f"{API}/me", tags=["account"])
    async def me(who: Me) -> dict[str, Any]:
        """Who this is, their settings and their tokens (never the tokens themselves)."""
        if who.account is None:  # a server token, or the open page (``signing_in``: no)
            signing_in = await required(web)
            return {
                "name": who.name,
                "admin": who.admin,
                "account": False,
                "signing_in": signing_in,
            }
        user = await web.store.user(who.account)
        assert user is not None
        tokens = await web.store.user_token_list(who.account)
        return {**user_view(user), "account": True, "tokens": tokens}

    @app.put(f"{API}/me/settings", tags=["account"])
    async def my_settings(body: Settings, who: Me) -> dict[str, Any]:
        """Change one's own default destination and link choices."""
        user = await _account(who)
        if body.limits is not None or body.library is not None:
            raise FerrymanError("account.forbidden", "an administrator sets these")
        chosen = {k: v for k, v in body.model_dump().items() if k in PERSONAL and v is not None}
        defaults.specs({**user.settings, **chosen})  # refused here, not at the next job
        await defaults.checked_dest(chosen, who, web.settings, web.sinks, web.resources)
        if chosen.get("notify"):
            chosen["notify"] = await defaults.notice_targets(chosen["notify"], web.settings)
        await web.store.update_user(user.id, settings={**user.settings, **chosen})
        return user_view(await _account(who))

    @app.post(f"{API}/me/password", status_code=204, tags=["account"])
    async def my_password(body: NewPassword, who: Me, request: Request) -> Response:
        """A new password; every session of the person ends (this one is renewed)."""
        user = await _account(who)
        await web.store.update_user(user.id, password_hash=await passwords.hashed(body.password))
        await audit(who, "password", user.name, request)
        response = Response(status_code=204)
        await set_session(response, web, request, await _account(who))
        await recheck(web)
        return response

    @app.post(f"{API}/me/tokens", status_code=201, tags=["account"])
    async def new_token(body: NewToken, who: Me) -> dict[str, Any]:
        """An API token of one's own, shown this once (only its hash is kept)."""
        user = await _account(who)
        token, hashed = guard.new_token()
        token_id = await web.store.add_user_token(user.id, hashed, body.label)
        return {"id": token_id, "label": body.label, "token": token}

    @app.delete(f"{API}/me/tokens/{{token_id}}", status_code=204, tags=["account"])
    async def revoke(token_id: TokenId, who: Me) -> Response:
        user = await _account(who)
        if not await web.store.remove_user_token(user.id, token_id):
            raise FerrymanError("account.token_not_found", f"you have no token {token_id}")
        await recheck(web)  # the streams opened with it close
        return Response(status_code=204)

    @app.post(f"{API}/me/telegram", tags=["account"])
    async def link_code(who: Me) -> dict[str, Any]:
        """A one-time code: sent to the bot as ``/link CODE`` within ten minutes, it
        makes that Telegram account's chat jobs this account's."""
        user = await _account(who)
        code = secrets.token_hex(6)  # 48 bits, good once for ten minutes
        hashed = "sha256:" + hashlib.sha256(code.encode()).hexdigest()
        await web.store.add_link_code(user.id, hashed, web.store.clock() + LINK_CODE_SECONDS)
        return {"code": code, "send": f"/link {code}", "expires_in": LINK_CODE_SECONDS}

    # ------------------------------------------------------ administrators

    @app.get(f"{API}/users", tags=["admin"])
    async def list_users(who: Me) -> dict[str, Any]:
        require_admin(who)
        counts = await web.store.account_counts()
        return {
            "users": [
                {**user_view(u), "jobs": counts.get(u.id, {"busy": 0, "running": 0})}
                for u in await web.store.users()
            ]
        }

    @app.post(f"{API}/users", status_code=201, tags=["admin"])
    async def add_user(body: NewUser, who: Me, request: Request) -> dict[str, Any]:
        require_admin(who)
        made = await web.store.add_user(
            body.name, await passwords.hashed(body.password), body.admin
        )
        await forget_person(web.settings, made.id)  # starts with nothing of anyone's
        web.book.changed()
        await audit(who, "user.add", made.name, request)
        return user_view(made)

    @app.post(f"{API}/users/{{name}}/password", status_code=204, tags=["admin"])
    async def reset(name: str, body: NewPassword, who: Me, request: Request) -> Response:
        require_admin(who)
        user = await named(name)
        await web.store.update_user(user.id, password_hash=await passwords.hashed(body.password))
        await audit(who, "user.reset", name, request)
        await recheck(web)  # their sessions ended: so do their streams
        return Response(status_code=204)

    @app.put(f"{API}/users/{{name}}/settings", tags=["admin"])
    async def set_settings(name: str, body: Settings, who: Me, request: Request) -> dict[str, Any]:
        """A person's settings and limits (``jobs`` at once, ``bytes_day``,
        ``results_kept``; 0 or absent: no limit)."""
        require_admin(who)
        user = await named(name)
        chosen = {k: v for k, v in body.model_dump().items() if v is not None}
        if "library" in chosen:
            chosen["library"] = defaults.library_setting(chosen["library"])
        if "limits" in chosen:
            unknown = set(chosen["limits"]) - set(LIMITS)
            if unknown:
                raise FerrymanError("request.invalid", f"limits: unknown {sorted(unknown)}")
        await web.store.update_user(user.id, settings={**user.settings, **chosen})
        await audit(who, "user.settings", name, request)
        return user_view(await named(name))

    @app.delete(f"{API}/users/{{name}}", status_code=204, tags=["admin"])
    async def remove(name: str, who: Me, request: Request) -> Response:
        """Remove an account (its tokens, passkeys, sessions, open streams, cookies and
        cached link results); its jobs stay, an administrator's now."""
        require_admin(who)
        user = await named(name)
        await web.store.remove_user(user.id)
        web.book.changed()
        await recheck(web)
        await forget_person(web.settings, user.id)
        await audit(who, "user.remove", name, request)
        return Response(status_code=204)

    @app.get(f"{API}/audit", tags=["admin"])
    async def audit_log(who: Me, limit: int = 200) -> dict[str, Any]:
        """Sign-ins and administrators' actions, newest first: who, what, when, from where."""
        require_admin(who)
        rows = await web.store.audit_log(max(1, min(limit, 1000)))
        return {"audit": [_row(r) for r in rows]}

    async def _account(who: Who) -> User:
        if who.account is None:
            raise FerrymanError(
                "account.not_found", "signed in with a server token, not an account"
            )
        user = await web.store.user(who.account)
        if user is None:
            raise FerrymanError("auth.required", "this account was removed")
        return user


def _row(row: Any) -> dict[str, Any]:
    return {
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "address": row.address,
    }
