"""Who may use the server, how often, and which links it may fetch.

- Tokens are kept hashed (``sha256:<hex>`` in ``web.tokens``): the settings never hold
  one that works. With none configured the server answers anyone, so it refuses to
  listen anywhere but loopback.
- The page logs in with a token into an HttpOnly, SameSite=Strict cookie; a request
  that changes something on the strength of that cookie must also carry the
  ``X-Ferryman-CSRF`` header the page's script sets (a form on another site cannot).
- A fixed window per token (or per address) limits requests, with ``RateLimit-*``
  headers and 429 ``Retry-After``.
- A link to a cloud metadata address is refused always (``link.blocked``). One to
  loopback, private, link-local or reserved addresses is refused only on an exposed
  page (``private_links_refused``: a public bind, or tokens), unless
  ``web.allow_private_links``: a page only this machine's user reaches (loopback, no
  tokens; the Host check keeps rebound names out) fetches from the home network. Checked
  when the job is added (here), and at every connection and redirect of its download
  (``net.egress``, switched on by ``ferryman web`` through ``network.block_private``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

from ferryman.clock import SYSTEM
from ferryman.errors import FerrymanError
from ferryman.net.addresses import check_host

COOKIE = "ferryman_session"
CSRF_HEADER = "x-ferryman-csrf"


def new_token() -> tuple[str, str]:
    """A fresh token and the line that goes into ``web.tokens``."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def is_loopback(host: str) -> bool:
    """Only this machine reaches it. An empty host is every interface (uvicorn binds
    "" as the wildcard), as are 0.0.0.0 and ::: public binds."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: list[str]) -> None:
    """Refuse to serve beyond this machine without a token to ask for."""
    if not is_loopback(host) and not tokens:
        raise FerrymanError(
            "config.invalid",
            f"web.host is {host or '(empty: every interface)'}, reachable from other"
            " machines, and web.tokens is empty: make a token with `ferryman web token` and"
            " add the sha256 line it prints (`ferryman config set web.tokens"
            " '[\"sha256:…\"]'`), or listen on this machine only:"
            " `ferryman config set web.host 127.0.0.1`",
        )


async def check_listen(host: str, port: int) -> None:
    """Refuse, before the store and the engine start, a port this machine will not let
    the page listen on (in use, or under 1024 without root): uvicorn only logged
    "[Errno 98]" and the command exited 3, which the exit table keeps for a wait on you.
    The loop's own ``create_server``, as uvicorn binds: every address the host names
    (``localhost``: ::1 and 127.0.0.1), a family this machine lacks skipped."""
    import asyncio  # lazy: start-up

    try:
        probe = await asyncio.get_running_loop().create_server(
            asyncio.Protocol, host or None, port, reuse_address=True, start_serving=False
        )
    except OSError as exc:
        raise FerrymanError(
            "web.cannot_listen", f"cannot listen on {host or '*'}:{port}: {exc.strerror or exc}"
        ) from exc
    probe.close()
    await probe.wait_closed()


def private_links_refused(host: str, tokens: list[str], allowed: bool) -> bool:
    """Whether a page bound to ``host`` refuses links into this machine or a private
    network: only when others may reach it (a public bind, or tokens handed out) and the
    operator did not allow them (``web.allow_private_links``). A loopback page without
    tokens is this machine's user's own, who can reach the home network anyway."""
    return not allowed and not (is_loopback(host) and not tokens)


class Tokens:
    def __init__(self, hashed: list[str]) -> None:
        self._hashed = [h.strip().lower() for h in hashed if h.strip()]

    @property
    def required(self) -> bool:
        return bool(self._hashed)

    def still_listed(self, prefix: str) -> bool:
        """A session made with a token whose hash starts so: it ends when the token is
        taken out of ``web.tokens``."""
        return any(h.startswith("sha256:" + prefix) for h in self._hashed) if prefix else False

    def known(self, token: str | None) -> bool:
        if not token:
            return False
        given = hash_token(token)
        return any(hmac.compare_digest(given, h) for h in self._hashed)


@dataclass(slots=True)
class _Window:
    start: float
    used: int = 0


KEYS = 10_000  # windows a limiter keeps: one an address or a token


@dataclass(slots=True)
class RateLimiter:
    """``limit`` requests per ``period`` seconds per key (a fixed window). Past ``keys``
    windows the oldest ones go, one for each new: forgetting all at once gave every
    address a fresh budget whenever 10,000 others had come (an attacker's own)."""

    limit: int
    period: float = 60.0
    keys: int = KEYS
    _windows: dict[str, _Window] = field(default_factory=dict)  # oldest window first

    def take(self, key: str, now: float | None = None) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until the window resets)."""
        now = SYSTEM.monotonic() if now is None else now
        window = self._windows.get(key)
        if window is None or now - window.start >= self.period:
            self._windows.pop(key, None)  # a new window goes to the end: the newest
            while len(self._windows) >= self.keys:
                del self._windows[next(iter(self._windows))]
            window = self._windows[key] = _Window(now)
        reset = window.start + self.period - now
        if window.used >= self.limit:
            return False, 0, reset
        window.used += 1
        return True, self.limit - window.used, reset


def check_link(url: str, allowed: Iterable[str] = (), *, private: bool = True) -> None:
    """Raise ``link.blocked`` when a web link's host is, or resolves to, a cloud metadata
    address or (``private``) one inside this machine or a private network, when the job
    is added (the downloads check again at every connection and redirect:
    ``net.egress``)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc:
        return  # names no host (torbox:…, tg:…; a source's ``address`` unwraps media:…)
    check_host(parts.hostname or "", parts.port, allowed, private=private)
