"""The names this server answers to: without tokens, a request whose ``Host`` is not
one of them is refused before routing (421 ``web.host_unknown``).

Why: without tokens the server trusts whoever reaches it, which on loopback means this
machine. A page on another site whose name is rebound to 127.0.0.1 (DNS rebinding)
reaches it too, from the user's own browser, with ``Host`` and ``Origin`` both naming
the attacker's site, so the Origin check alone lets it through. A browser always sends
the name it looked up as ``Host``; refusing every name but our own ends the attack.
With tokens the token is the guard (the attacker's page has neither it nor the session
cookie, which is SameSite=Strict and scoped to our own name), so any name is served:
a public bind is reached by names and addresses the server cannot know.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.web.core import error_response, send_error

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def own_names(bind: str, public_url: str | None) -> frozenset[str]:
    """The loopback names, the bind address and ``web.public_url``'s host."""
    names = set(LOOPBACK_NAMES)
    if bind:
        names.add(bare(bind))
    if public_url:
        names.add(bare(urllib.parse.urlsplit(public_url).hostname or ""))
    return frozenset(names - {""})


def bare(host: str) -> str:
    """``host`` as compared: lower case, no brackets, no trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def name_of(header: str) -> str:
    """The name in a ``Host`` header, its port left out (``[::1]:8080`` → ``::1``)."""
    header = header.strip()
    if header.startswith("["):
        return bare(header.partition("]")[0])
    if header.count(":") == 1:
        header = header.partition(":")[0]
    return bare(header)


def answers_to(header: str | None, names: frozenset[str]) -> bool:
    """Whether a request with this ``Host`` is for us: one of ``names``, or any
    loopback address literal (an address cannot be rebound)."""
    if not header:
        return False
    name = name_of(header)
    if name in names:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostGuard:
    """Plain ASGI, outermost: a request for another name never reaches a route (HTTP:
    421 with a code; a WebSocket: closed before it is accepted, 403 to the client)."""

    def __init__(self, app: Any, *, names: frozenset[str], enabled: bool) -> None:
        self.app = app
        self.names = names
        self.enabled = enabled

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.enabled or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if answers_to(host, self.names):
            await self.app(scope, receive, send)
            return
        shown = name_of(host or "") or "(none)"
        refused = FerrymanError(
            "web.host_unknown", f"this server does not answer to the name {shown[:100]!r}"
        )
        if scope["type"] == "websocket":
            await receive()  # websocket.connect: then refuse the handshake
            await send({"type": "websocket.close", "code": 1008, "reason": refused.code})
            return
        await send_error(send, error_response(refused), [])
