"""Whether the network interface that holds a local address has lost its carrier.

Read from the C library's ``getifaddrs`` (glibc, musl, Android's bionic, macOS, the
BSDs) through ctypes: each interface's name, its flags (``IFF_RUNNING``: the carrier)
and its addresses in one call, as psutil reads them, without a dependency that has
no wheel for Android (Termux would build it from source, or fail to). ``/sys`` and
``/proc/net`` are no help here: neither maps an IPv4 address to its interface, and
Android 10 and later deny ``/proc/net``.
"""

from __future__ import annotations

import ctypes
import socket
import sys
from collections.abc import Iterator

IFF_RUNNING = 0x40  # net/if.h: the link has its carrier (the same bit on Linux and BSD)
# Where a sockaddr's address starts: sockaddr_in after family and port; sockaddr_in6
# after family, port and flow info.
_ADDRESS_AT: dict[int, tuple[int, int]] = {socket.AF_INET: (4, 4), socket.AF_INET6: (8, 16)}
_BSD_SOCKADDR = not sys.platform.startswith(("linux", "android"))  # sa_len, then sa_family


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [  # struct ifaddrs: the fields every libc lays out alike, in order
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.c_void_p),
]


def link_down(local: str) -> bool:
    """Whether the interface holding ``local`` (an address, IPv6 without its zone) has
    lost its carrier; False when that cannot be read: the route is then believed."""
    try:
        return any(address == local and not flags & IFF_RUNNING for _, flags, address in _read())
    except OSError:
        return False


def interfaces() -> list[tuple[str, int, str]]:
    """Every (interface, flags, address) ``getifaddrs`` gives for IPv4 and IPv6."""
    return list(_read())


def _read() -> Iterator[tuple[str, int, str]]:
    libc = ctypes.CDLL(None, use_errno=True)  # the symbols this process has: libc among them
    getifaddrs, freeifaddrs = libc.getifaddrs, libc.freeifaddrs
    getifaddrs.argtypes = [ctypes.POINTER(ctypes.POINTER(_IfAddrs))]
    freeifaddrs.argtypes = [ctypes.POINTER(_IfAddrs)]
    head = ctypes.POINTER(_IfAddrs)()
    if getifaddrs(ctypes.byref(head)) != 0:
        raise OSError(ctypes.get_errno(), "getifaddrs failed")
    found: list[tuple[str, int, str]] = []
    try:
        entry = head
        while entry:
            item = entry.contents
            address = _address(item.ifa_addr) if item.ifa_addr else None
            if address is not None and item.ifa_name is not None:
                name = item.ifa_name.decode(errors="replace")
                found.append((name, int(item.ifa_flags), address))
            entry = item.ifa_next
    finally:
        freeifaddrs(head)
    yield from found


def _address(sockaddr: int) -> str | None:
    """An IPv4 or IPv6 sockaddr's address as text; None for any other family."""
    if _BSD_SOCKADDR:
        family = ctypes.c_ubyte.from_address(sockaddr + 1).value
    else:
        family = ctypes.c_ushort.from_address(sockaddr).value
    if family not in _ADDRESS_AT:
        return None
    start, size = _ADDRESS_AT[family]
    return socket.inet_ntop(family, ctypes.string_at(sockaddr + start, size))
