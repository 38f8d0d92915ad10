"""Which addresses a download may reach: with ``network.block_private`` none inside this
machine or a private network (loopback, RFC 1918 and unique-local, link-local, cloud
metadata, reserved, multicast), so a server that fetches links for others cannot be
turned against what only it can reach (SSRF).

The check runs on every request the HTTP clients make (``net.http``), so each redirect
is checked as it is followed, with the host resolved at that moment. Hosts and
addresses in ``network.private_allowed`` (a NAS at home) are taken anyway.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
from collections.abc import Iterable, Iterator
from typing import Any

from ferryman.errors import FerrymanError

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def blocked_address(address: str) -> bool:
    """Whether an IP address lies inside this machine or a private network."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip in _METADATA
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_host(host: str, port: int | None, allowed: Iterable[str] = ()) -> None:
    """Raise ``link.blocked`` when ``host`` is, or resolves to, a blocked address. A
    name that does not resolve passes: the connection reports it with its own code."""
    host = host.strip("[]")
    if not host:
        raise FerrymanError("link.invalid", "the link has no host")
    exempt = {a.strip("[]").lower() for a in allowed}
    if host.lower() in exempt:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if address not in exempt and blocked_address(address):
            raise FerrymanError("link.blocked", _inside(host, address))


def _inside(host: str, address: str) -> str:
    """What a refusal says: the host, and the address it has when that is another."""
    named = host if host.strip("[]") == address else f"{host} ({address})"
    return f"{named} is inside a private or local network"


class LookupGuard:
    """Name lookups in this process answer only addresses that may be reached: for
    connections ferryman does not make itself (yt-dlp's, each redirect and fragment, in
    the fetch stage's child process). Every connection starts with ``getaddrinfo``
    (a literal address too), so the check is at connect time, on the addresses the
    connection then uses. ``refused`` says what was refused, for the error."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(a.strip("[]").lower() for a in allowed)
        self.refused: str | None = None

    def lookup(self, original: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        infos = original(host, port, *args, **kwargs)
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not name or name.strip("[]").lower() in self.allowed:
            return infos
        for info in infos:
            address = str(info[4][0])
            if address.lower() not in self.allowed and blocked_address(address):
                self.refused = _inside(name, address)
                raise socket.gaierror(socket.EAI_NONAME, self.refused)
        return infos


@contextlib.contextmanager
def guarded_lookups(allowed: Iterable[str]) -> Iterator[LookupGuard]:
    """``socket.getaddrinfo`` checked by a ``LookupGuard`` while the block runs. It
    changes the process's socket module: only for a child process of ferryman's own."""
    guard = LookupGuard(allowed)
    original = socket.getaddrinfo
    socket.getaddrinfo = functools.partial(guard.lookup, original)
    try:
        yield guard
    finally:
        socket.getaddrinfo = original
