"""The one egress guard: where a connection made on someone's behalf may go.

Every outbound connection ferryman makes for a link, a redirect, a feed, a WebDAV
folder, Torbox, a webhook or an Apprise notice goes through an ``Egress``: the host is
resolved once, every address it has is checked, and the connection is made to those
same addresses. So the check is on what is connected to, not on a name that a DNS
server may answer differently a moment later (DNS rebinding).

- Cloud metadata addresses are refused always: nothing ferryman fetches lives there,
  and what does is a machine's credentials.
- With ``network.block_private`` (``ferryman web`` turns it on) loopback, private,
  link-local, reserved and multicast addresses are refused too, unless the host or the
  address is in ``network.private_allowed``, or the URL is one the operator wrote in
  the settings file (``trusted``: ``notify.urls``, ``torbox.api_base``).

httpx's connections are guarded by a network backend (``guard_async``, ``guard_sync``)
that resolves, checks and connects to the checked addresses itself; connections made by
other libraries (yt-dlp, Apprise) in a child process of ferryman's own are guarded at
their name lookups (``net.addresses.guarded_lookups``), which every connection starts
with.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import socket
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpcore

from ferryman.errors import FerrymanError
from ferryman.net.addresses import METADATA, blocked_address, inside

if TYPE_CHECKING:  # not loaded in an Apprise child: pydantic is most of its start
    from ferryman.config import NetworkSettings


@dataclass(frozen=True, slots=True)
class Egress:
    """Which addresses connections may reach (plain data: it crosses to a child)."""

    block_private: bool = False
    allowed: frozenset[str] = frozenset()  # hosts and addresses, lower case, no brackets

    @classmethod
    def of(cls, network: NetworkSettings, trusted: Iterable[str] = ()) -> Egress:
        """The guard ``network`` asks for; ``trusted``: hosts the operator wrote in the
        settings file, taken as written."""
        return cls.named(network.block_private, [*network.private_allowed, *trusted])

    @classmethod
    def named(cls, block_private: bool, allowed: Iterable[str]) -> Egress:
        return cls(block_private, frozenset(_bare(n) for n in allowed if n.strip()))

    def refuses(self, host: str, address: str) -> bool:
        """Whether a connection to ``address`` (``host``'s) is refused."""
        bare = address.split("%")[0].lower()
        if _metadata(bare):
            return True
        if not self.block_private or _bare(host) in self.allowed or bare in self.allowed:
            return False
        return blocked_address(bare)

    def check(self, host: str, addresses: Iterable[str]) -> None:
        """Raise ``link.blocked`` when any of ``host``'s addresses is refused."""
        for address in addresses:
            if self.refuses(host, address):
                raise FerrymanError("link.blocked", refusal(host, address))


def refusal(host: str, address: str) -> str:
    """What a refusal says: the host, its address, and why."""
    if _metadata(address.split("%")[0].lower()):
        named = inside(_bare(host), address).removesuffix(" is inside a private or local network")
        return f"{named} is a cloud metadata address"
    return inside(_bare(host), address)


def _bare(host: str) -> str:
    return host.strip().strip("[]").lower()


def _metadata(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip in METADATA


def _addresses(infos: Iterable[tuple[typing.Any, ...]]) -> list[str]:
    """getaddrinfo's answers as addresses, each once, in its order."""
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


# A connection made to checked addresses one by one (not to the name, which would be
# resolved again) loses the clients' "happy eyeballs": so the families take turns, and
# every address but the last has this long, so a dead IPv6 route costs seconds, not the
# whole connect timeout.
NEXT_ADDRESS_SECONDS = 2.0


def _tries(addresses: list[str], timeout: float | None) -> list[tuple[str, float | None]]:
    """Each address to try in turn (the families alternating) and its timeout."""
    six = [a for a in addresses if ":" in a]
    four = [a for a in addresses if ":" not in a]
    first, second = (six, four) if addresses and ":" in addresses[0] else (four, six)
    order = [a for pair in itertools.zip_longest(first, second) for a in pair if a is not None]
    short = NEXT_ADDRESS_SECONDS if timeout is None else min(timeout, NEXT_ADDRESS_SECONDS)
    return [(a, timeout if n == len(order) - 1 else short) for n, a in enumerate(order)]


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's backend, resolving and checking before it connects to the checked
    addresses (TLS still names the host: httpcore passes it to ``start_tls``)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, egress: Egress) -> None:
        self._inner = inner
        self._egress = egress

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[tuple[typing.Any, ...]] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no address for {host} in time") from exc
        except OSError as exc:  # a gaierror: transport_error reads it as the cause
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = _addresses(infos)
        self._egress.check(host, addresses)
        failure: Exception | None = None
        for address, seconds in _tries(addresses, timeout):
            try:
                return await self._inner.connect_tcp(
                    address, port, seconds, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[tuple[typing.Any, ...]] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _SyncBackend(httpcore.NetworkBackend):
    """``_AsyncBackend``'s blocking twin."""

    def __init__(self, inner: httpcore.NetworkBackend, egress: Egress) -> None:
        self._inner = inner
        self._egress = egress

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple[typing.Any, ...]] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = _addresses(infos)
        self._egress.check(host, addresses)
        failure: Exception | None = None
        for address, seconds in _tries(addresses, timeout):
            try:
                return self._inner.connect_tcp(
                    address, port, seconds, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[tuple[typing.Any, ...]] | None = None,
    ) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guard_async(pool: httpcore.AsyncConnectionPool, egress: Egress) -> None:
    """Put ``egress`` at every connection ``pool`` (an httpx transport's) makes."""
    pool._network_backend = _AsyncBackend(pool._network_backend, egress)


def guard_sync(pool: httpcore.ConnectionPool, egress: Egress) -> None:
    """``guard_async`` for a blocking pool."""
    pool._network_backend = _SyncBackend(pool._network_backend, egress)


class LookupGuard:
    """Name lookups and socket connections in this process reach only addresses
    ``egress`` lets through: for connections ferryman does not make itself (yt-dlp's,
    Apprise's, in a child process of ferryman's own). Most connections start with
    ``getaddrinfo`` (a literal address too) and use its answer; a socket connected or
    sent to by name or address directly (a plugin's UDP syslog, say) is checked at
    ``connect``/``sendto``, a name looked up here and the checked address used.
    ``refused`` says what was refused, for the error."""

    def __init__(self, egress: Egress) -> None:
        self.egress = egress
        self.refused: str | None = None

    def lookup(self, original: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        infos = original(host, port, *args, **kwargs)
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not name:  # a passive lookup (a socket to listen on) connects nowhere
            return infos
        for address in _addresses(infos):
            if self.egress.refuses(name, address):
                self.refused = refusal(name, address)
                raise socket.gaierror(socket.EAI_NONAME, self.refused)
        return infos

    def peer(self, family: int, address: Any) -> Any:
        """A socket's peer as it may be reached: an IP socket's name or address is
        looked up (checked: raises ``OSError`` when refused), the answer used."""
        if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return address
        host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
        if not host:  # '' is "any": this machine
            host = "0.0.0.0" if family == socket.AF_INET else "::"
        infos = socket.getaddrinfo(host, address[1], family)  # the guarded lookup
        return infos[0][4] if len(address) == 2 else (infos[0][4][0], *address[1:])


_PATCHED = ("connect", "connect_ex", "sendto")


@contextlib.contextmanager
def guarded_lookups(egress: Egress) -> Iterator[LookupGuard]:
    """``socket.getaddrinfo`` and sockets' ``connect``/``sendto`` checked by a
    ``LookupGuard`` while the block runs. It changes the process's socket module: only
    for a child process of ferryman's own."""
    guard = LookupGuard(egress)
    original = socket.getaddrinfo
    methods = {name: getattr(socket.socket, name) for name in _PATCHED}
    own = {name for name in _PATCHED if name in vars(socket.socket)}

    def connect(sock: socket.socket, address: Any) -> Any:
        return methods["connect"](sock, guard.peer(sock.family, address))

    def connect_ex(sock: socket.socket, address: Any) -> Any:
        return methods["connect_ex"](sock, guard.peer(sock.family, address))

    def sendto(sock: socket.socket, data: Any, *rest: Any) -> Any:
        *flags, address = rest
        return methods["sendto"](sock, data, *flags, guard.peer(sock.family, address))

    socket.getaddrinfo = functools.partial(guard.lookup, original)
    for name, method in (("connect", connect), ("connect_ex", connect_ex), ("sendto", sendto)):
        setattr(socket.socket, name, method)
    try:
        yield guard
    finally:
        socket.getaddrinfo = original
        for name in _PATCHED:
            if name in own:
                setattr(socket.socket, name, methods[name])
            else:
                delattr(socket.socket, name)
