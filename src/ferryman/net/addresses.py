"""Which addresses a download may reach: with ``network.block_private`` none inside this
machine or a private network (loopback, RFC 1918 and unique-local, link-local, cloud
metadata, reserved, multicast), so a server that fetches links for others cannot be
turned against what only it can reach (SSRF).

The check runs on every request the HTTP clients make (``net.http``), so each redirect
is checked as it is followed, with the host resolved at that moment. Hosts and
addresses in ``network.private_allowed`` (a NAS at home) are taken anyway.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

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
            raise FerrymanError(
                "link.blocked", f"{host} is {address}, inside a private or local network"
            )
