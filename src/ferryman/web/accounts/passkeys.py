"""Passkeys (WebAuthn) through py_webauthn, the maintained library made for the checks a
relying party must make (the challenge, the origin, the RP ID, the signature, the
counter). A signed-in person adds one; anyone signs in with one (a discoverable
credential: no name to type). The challenge is kept here, once, for two minutes; the
library's calls are in ``ceremonies``, loaded by the first ceremony, not at start.

The relying party is the page's host name (``web.public_url``'s when set, behind a
proxy): a browser refuses passkeys for a bare IP address, so a page reached as
127.0.0.1 offers them only when opened as ``localhost``."""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ferryman.clock import Clock
from ferryman.errors import FerrymanError
from ferryman.web.accounts.routes import address, set_session
from ferryman.web.accounts.who import Me
from ferryman.web.core import API, Web

CHALLENGE_SECONDS = 120.0
CHALLENGES_KEPT = 1000


class Finish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ceremony: str = Field(..., max_length=64)
    credential: dict[str, Any]


def relying_party(web: Web, request: Request) -> tuple[str, str]:
    """(RP ID, origin) of the page as the browser sees it."""
    public = web.settings.web.public_url
    if public:
        parts = urllib.parse.urlsplit(str(public))
        return parts.hostname or "", f"{parts.scheme}://{parts.netloc}"
    host = request.headers.get("host", "")
    return urllib.parse.urlsplit(f"//{host}").hostname or "", f"{request.url.scheme}://{host}"


class Challenges:
    """Ceremonies under way: a challenge each, for whom, until when; used once."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._kept: dict[str, tuple[bytes, int | None, float]] = {}

    def new(self, challenge: bytes, account: int | None) -> str:
        now = self._clock.monotonic()
        self._kept = {k: v for k, v in self._kept.items() if v[2] > now}
        if len(self._kept) >= CHALLENGES_KEPT:
            raise FerrymanError("rate.limited", "too many passkey sign-ins under way")
        ceremony = secrets.token_urlsafe(16)
        self._kept[ceremony] = (challenge, account, now + CHALLENGE_SECONDS)
        return ceremony

    def take(self, ceremony: str, account: int | None) -> bytes:
        found = self._kept.pop(ceremony, None)
        if found is None or found[2] < self._clock.monotonic() or found[1] != account:
            raise FerrymanError("account.passkey", "this passkey request expired: try again")
        return found[0]


def routes(app: FastAPI, web: Web) -> None:
    challenges = Challenges(web.clock)

    @app.post(f"{API}/me/passkeys/options", tags=["account"])
    async def add_options(request: Request, who: Me) -> dict[str, Any]:
        """The options for ``navigator.credentials.create``, and the ceremony's id."""
        if who.account is None:
            raise FerrymanError(
                "account.not_found", "signed in with a server token, not an account"
            )
        from ferryman.web.accounts import ceremonies  # lazy: start-up

        rp_id, _ = relying_party(web, request)
        challenge, options = ceremonies.registration_options(rp_id, who.name, who.account)
        return {"ceremony": challenges.new(challenge, who.account), "options": options}

    @app.post(f"{API}/me/passkeys", status_code=201, tags=["account"])
    async def add(body: Finish, request: Request, who: Me) -> dict[str, Any]:
        """Keep the passkey the browser made (its public key and counter)."""
        from ferryman.web.accounts import ceremonies  # lazy: start-up

        challenge = challenges.take(body.ceremony, who.account)
        rp_id, origin = relying_party(web, request)
        try:
            credential_id, public_key, sign_count = ceremonies.verify_registration(
                body.credential, challenge, rp_id, origin
            )
        except ceremonies.Refused as exc:
            raise FerrymanError("account.passkey", f"the passkey was refused: {exc}") from None
        assert who.account is not None
        await web.store.add_passkey(who.account, credential_id, public_key, sign_count)
        await web.store.add_audit(who.name, "passkey.add", credential_id[:16], address(request))
        return {"added": True}

    @app.post(f"{API}/session/passkey/options", tags=["session"])
    async def sign_in_options(request: Request) -> dict[str, Any]:
        """The options for ``navigator.credentials.get`` (any of this site's passkeys)."""
        allowed, _, _ = web.limiter.take(f"sign-in:{address(request)}", web.clock.monotonic())
        if not allowed:
            raise FerrymanError("rate.limited", "too many sign-ins: wait a minute")
        from ferryman.web.accounts import ceremonies  # lazy: start-up

        rp_id, _ = relying_party(web, request)
        challenge, options = ceremonies.authentication_options(rp_id)
        return {"ceremony": challenges.new(challenge, None), "options": options}

    @app.post(f"{API}/session/passkey", status_code=204, tags=["session"])
    async def sign_in(body: Finish, request: Request) -> Response:
        """Sign in with a passkey: the same session cookie as a password's."""
        from ferryman.web.accounts import ceremonies  # lazy: start-up

        challenge = challenges.take(body.ceremony, None)
        rp_id, origin = relying_party(web, request)
        raw = str(body.credential.get("rawId") or body.credential.get("id") or "")
        key = await web.store.passkey(raw)
        user = await web.store.user(key.user_id) if key is not None else None
        if key is None or user is None:
            await web.store.add_audit("?", "sign_in.refused", "passkey", address(request))
            raise FerrymanError("account.passkey", "this passkey is not known here")
        try:
            new_count = ceremonies.verify_authentication(
                body.credential, challenge, rp_id, origin, key.public_key, key.sign_count
            )
        except ceremonies.Refused as exc:
            await web.store.add_audit(user.name, "sign_in.refused", "passkey", address(request))
            raise FerrymanError("account.passkey", f"the passkey was refused: {exc}") from None
        await web.store.passkey_used(key.id, new_count)
        await web.store.add_audit(user.name, "sign_in", "passkey", address(request))
        response = Response(status_code=204)
        await set_session(response, web, request, user)
        return response
