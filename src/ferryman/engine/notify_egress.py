"""Where a notice may go: the egress guard (``net.egress``) for webhooks and Apprise.

A notice URL the operator wrote in ``notify.urls`` is trusted as written; one that came
with a job or a watch (``--notify``: the page, the API, the chat, the CLI) is checked
like a link: with ``network.block_private`` it never reaches this machine or a private
network unless ``network.private_allowed`` names it. Cloud metadata is refused always.
Checked when the watch is added (the early word, on what the URL says) and at every
connection (on the addresses connected to, so a name rebound meanwhile gets nowhere).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.media.child import run_in_child
from ferryman.net.apprise_send import send
from ferryman.net.egress import Egress

# Apprise schemes whose host is a web server's (json://host/…): their names are resolved
# at add time. Other schemes' "host" may be a token (tgram://123456:ABC/…): only a host
# written as an address, or localhost, is judged then; the connection judges the rest.
_HTTP_LIKE = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "ferryman", "ferrymans"})


def egress_for(url: str, settings: Settings) -> Egress:
    """The guard for a notice to ``url``: the settings' own URLs are trusted."""
    if url in settings.notify.urls:
        return Egress()  # metadata is still refused
    return Egress.of(settings.network)


async def check_targets(targets: str | None, settings: Settings) -> None:
    """Refuse (``notify.blocked``) a job's or watch's notice URL that the guard would
    refuse at its connection; a name that does not resolve now passes (its
    connection is checked when it is made)."""
    if not targets or not settings.network.block_private:
        return
    for url in targets.split():
        if url != "none":
            await asyncio.to_thread(_check, url, egress_for(url, settings))


def _check(url: str, egress: Egress) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return  # not this guard's to judge: Apprise or the webhook refuses it
    name = host.rstrip(".")
    literal = _literal(name)
    if literal is not None:
        addresses = [literal]
    elif name == "localhost" or name.endswith(".localhost"):
        addresses = ["127.0.0.1", "::1"]
    elif parts.scheme.lower() in _HTTP_LIKE and name:
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError:
            return
        addresses = [str(info[4][0]) for info in infos]
    else:
        return
    try:
        egress.check(host, addresses)
    except FerrymanError as exc:
        raise FerrymanError("notify.blocked", f"notice URL {_shown(parts)}: {exc.message}") from exc


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _shown(parts: urllib.parse.SplitResult) -> str:
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


async def send_apprise(url: str, title: str, body: str, seconds: float, egress: Egress) -> None:
    """One Apprise notice from a child process whose lookups ``egress`` checks
    (``net.apprise_send``); a target with no answer in ``seconds`` is cut off."""

    shown = url.partition("://")[0] + "://…"
    kwargs = {"url": url, "title": title, "body": body, "shown": shown, "egress": egress}
    try:
        await run_in_child(send, kwargs, on_progress=None, timeout=seconds)
    except FerrymanError as exc:
        if exc.code == "media.convert_timeout":
            raise FerrymanError(
                "notify.undelivered", f"{shown}: no answer in {seconds:g} s"
            ) from exc
        if exc.code.startswith("notify."):
            raise
        raise FerrymanError("notify.undelivered", f"{shown}: {exc.message}") from exc
