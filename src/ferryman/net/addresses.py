"""Which addresses a download may reach: with ``network.block_private`` none inside this
machine or a private network (loopback, RFC 1918 and unique-local, link-local, cloud
metadata, reserved, multicast), so a server that fetches links for others cannot be
turned against what only it can reach (SSRF).

``check_host`` is the early word (a link added through the page); the guard at every
connection, on the addresses connected to, is ``net.egress``. Hosts and addresses in
``network.private_allowed`` (a NAS at home) are taken anyway.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from ferryman.errors import FerrymanError

# Cloud metadata services (AWS, GCP, Azure, Oracle; AWS's ECS and IPv6; Alibaba): refused
# by ``net.egress`` whatever the settings say.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


def blocked_address(address: str) -> bool:
    """Whether an IP address lies inside this machine or a private network."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip in METADATA
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_host(
    host: str, port: int | None, allowed: Iterable[str] = (), *, private: bool = True
) -> None:
    """Raise ``link.blocked`` when ``host`` is, or resolves to, a blocked address (with
    ``private`` off: a cloud metadata address, which nothing allows). A name that does
    not resolve passes: the connection reports it with its own code."""
    host = host.strip("[]")
    if not host:
        raise FerrymanError("link.invalid", "the link has no host")
    exempt = {a.strip("[]").lower() for a in allowed} if private else set()
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
        if _metadata(address):
            named = host if host == address else f"{host} ({address})"
            raise FerrymanError("link.blocked", f"{named} is a cloud metadata address")
        if private and address not in exempt and blocked_address(address):
            raise FerrymanError("link.blocked", inside(host, address))


def _metadata(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip in METADATA


def inside(host: str, address: str) -> str:
    """What a refusal says: the host, and the address it has when that is another."""
    named = host if host.strip("[]") == address else f"{host} ({address})"
    return f"{named} is inside a private or local network"
