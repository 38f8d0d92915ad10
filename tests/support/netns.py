"""Machines of a test's own making: one Linux network namespace per node.

Each node gets a namespace with its own loopback and a veth pair to the host; the
host's services (PostgreSQL, S3, an HTTP site) are reached at one service address,
``SERVICE``, through TCP forwarders the test runs, the way machines reach a database
server across a network. A node's own ``127.0.0.1`` is its own: it reaches nothing of
the host's or the other nodes'. ``cut(node)`` takes the node's link down (a cable
pulled: packets vanish, no connection is refused) and ``mend(node)`` brings it back.

Needs root (CAP_NET_ADMIN) and ``ip``; :func:`available` says whether this machine
allows it, so a test can fall back to plain processes on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

SERVICE = "10.231.255.1"  # on the host's loopback while a Network lives
_LOCK = "/tmp/ferryman-netns.lock"  # every run on this host takes it to change links
# One file per live Network (``<pid>-<n>``): SERVICE goes when the last one closes. A
# Network needs SERVICE from its start, before it has any namespace, so namespaces alone
# cannot say who still uses it.
_USERS = "/tmp/ferryman-netns.users"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available() -> str | None:
    """None when namespaces can be made here, else why not (for a skip or a fallback)."""
    if shutil.which("ip") is None:
        return "no `ip` command"
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN"
    probe = f"fmprobe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Network:
    """The namespaces and links of one test; everything goes when the block ends."""

    tag: str = field(default_factory=lambda: f"fm{os.getpid()}")  # fm<pid>h<n>: 15 at most
    nodes: dict[str, int] = field(default_factory=dict)  # node name -> its link's number
    _forwarders: list[_Forwarder] = field(default_factory=list)
    _user: str = field(default_factory=lambda: f"{_USERS}/{os.getpid()}-{uuid.uuid4().hex}")

    def _names(self, node: str) -> tuple[str, str, str]:
        n = self.nodes[node]
        return f"{self.tag}-{n}", f"{self.tag}h{n}", f"{self.tag}n{n}"

    def add(self, node: str) -> None:
        """A namespace for ``node``, linked to the host, its default route through it.

        Its subnet, 10.231.<n>.0/30, is one no other live link holds (runs beside this one,
        pytest-xdist's workers among them, make namespaces at the same time): picked and
        taken under a lock every run shares."""
        with _host_lock():
            n = _free_subnet()
            self.nodes[node] = n
            netns, host_end, node_end = self._names(node)
            _ip("netns", "add", netns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
            _ip("link", "set", node_end, "netns", netns)
            _ip("addr", "add", f"10.231.{n}.1/30", "dev", host_end)
        _ip("link", "set", host_end, "up")
        inside = ("-n", netns)
        _ip(*inside, "addr", "add", f"10.231.{n}.2/30", "dev", node_end)
        _ip(*inside, "link", "set", node_end, "up")
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "route", "add", "default", "via", f"10.231.{n}.1")

    def prefix(self, node: str) -> list[str]:
        """What to put before a command to run it on ``node``."""
        return ["ip", "netns", "exec", self.namespace(node)]

    def namespace(self, node: str) -> str:
        """``node``'s network namespace, by name (``forked.popen(…, netns=…)``)."""
        return self._names(node)[0]

    def cut(self, node: str) -> None:
        _ip("link", "set", self._names(node)[1], "down")

    def offline(self, node: str) -> None:
        """``node`` as a phone in airplane mode: its link down and no route out at all
        (a pulled cable keeps its routes, marked linkdown)."""
        self.cut(node)
        _ip("-n", self._names(node)[0], "route", "del", "default", check=False)

    def mend(self, node: str) -> None:
        _ip("link", "set", self._names(node)[1], "up")
        n = self.nodes[node]  # the address's route went with the link
        _ip("-n", self._names(node)[0], "route", "replace", "default", "via", f"10.231.{n}.1")

    def forward(self, port: int) -> int:
        """A port on ``SERVICE`` whose connections go on to ``127.0.0.1:port``."""
        forwarder = _Forwarder(port)
        self._forwarders.append(forwarder)
        return forwarder.listening

    def reach(self, url: str) -> str:
        """``url`` (to a loopback service) as a node reaches it: through a forwarder."""
        parts = urlsplit(url)
        assert parts.port is not None, url
        netloc = f"{SERVICE}:{self.forward(parts.port)}"
        if parts.username:
            password = f":{parts.password}" if parts.password else ""
            netloc = f"{parts.username}{password}@{netloc}"
        return urlunsplit(parts._replace(netloc=netloc))

    def close(self) -> None:
        for forwarder in self._forwarders:
            forwarder.close()
        with _host_lock():
            for node in list(self.nodes):
                netns, host_end, _ = self._names(node)
                _ip("link", "del", host_end, check=False)
                _ip("netns", "del", netns, check=False)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._user)
            if not _others_live():  # the service address is shared by every live run
                _ip("addr", "del", f"{SERVICE}/32", "dev", "lo", check=False)


def _clear_stale() -> None:
    """Namespaces and links a killed run left (their pid is gone): they hold the same
    subnets, and a second route to one sends the new node's replies down the dead link."""
    listed = _ip("-o", "link", "show", check=False).stdout
    for name, pid in re.findall(r"^\d+: (fm(\d+)h\d+)[@:]", listed, re.M):
        if not os.path.exists(f"/proc/{pid}"):
            _ip("link", "del", name, check=False)
    spaces = _ip("netns", "list", check=False).stdout
    for name, pid in re.findall(r"^(fm(\d+)-\d+)\b", spaces, re.M):
        if not os.path.exists(f"/proc/{pid}"):
            _ip("netns", "del", name, check=False)


@contextlib.contextmanager
def network_or_skip(what: str) -> Iterator[Network]:
    """``network()``, or the test skipped saying why ``what`` cannot be made here."""
    import pytest

    why = available()
    if why is not None:
        pytest.skip(f"{what} needs a network namespace: {why}")
    with network() as net:
        yield net


@contextlib.contextmanager
def network() -> Iterator[Network]:
    net = Network()
    try:
        with _host_lock():
            _clear_stale()
            os.makedirs(_USERS, exist_ok=True)
            open(net._user, "w").close()  # a marker: this Network lives
            if f" {SERVICE}/32 " not in _ip("-o", "addr", "show", "dev", "lo").stdout:
                _ip("addr", "add", f"{SERVICE}/32", "dev", "lo")
        yield net
    finally:
        net.close()


@contextlib.contextmanager
def _host_lock() -> Iterator[None]:
    """One run at a time changes the host's links and addresses (xdist workers, or
    runs started side by side, would otherwise pick the same subnet)."""
    with open(_LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _free_subnet() -> int:
    """The lowest n whose 10.231.<n>.1 no link on the host holds (1-254; 255 is SERVICE's)."""
    held = {
        int(n) for n in re.findall(r"\b10\.231\.(\d+)\.1/30\b", _ip("-o", "addr", "show").stdout)
    }
    for n in range(1, 255):
        if n not in held:
            return n
    raise RuntimeError("every 10.231.<n>.0/30 subnet is taken")


def _others_live() -> bool:
    """Whether another live Network exists, in this process or another (it still needs
    SERVICE); a user file whose process is gone is removed on the way."""
    live = False
    for name in os.listdir(_USERS) if os.path.isdir(_USERS) else ():
        if os.path.exists(f"/proc/{name.partition('-')[0]}"):
            live = True
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(_USERS, name))
    return live


class _Forwarder:
    """A TCP relay on ``SERVICE`` to a loopback port, on an event loop of its own thread."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.sock = socket.create_server((SERVICE, 0))
        self.listening: int = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self.started = threading.Event()
        self.thread.start()
        self.started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._relay, sock=self.sock))
        self.server = server
        self.started.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
