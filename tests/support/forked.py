"""``python -m ferryman …`` as a child process, forked from a process that imported
ferryman once (``tests/support/zygote_server.py``) instead of started afresh.

Each command is still a process of its own, with its own pid, environment, working folder
and standard streams, killed by a real signal, ending as an interpreter ends; what it
skips is the ~0.6-1.4 CPU-s of imports every ``ferryman`` start pays, which the suite paid
hundreds of times over (docs/testing.md, "Forked commands"). ``popen`` and ``run`` take
the words after ``ferryman`` and answer as ``subprocess.Popen`` and ``subprocess.run``
do (the parts the tests use). Start-up itself (what a command imports, the wheel a user
installs) is tested apart, by real starts: tests/cli/test_startup_imports.py,
tests/cli/test_wheel.py and ``make smoke``.

``FERRYMAN_TEST_FORK=0`` starts every command afresh instead (to tell whether a failure
comes from the fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import locale
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
_SERVER = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from tests.support import zygote_server as z; z._preload(); "
    "got = z.serve({address!r}); "
    "got is None and sys.exit(0); "
    "z.run_as_main(*got)"
)


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Fork unless told not to, or unless ``env`` changes what an interpreter reads as it
    starts (``PYTHON*``: the import path, the flags; the locale: its streams' encoding),
    which a fork of one started already could not honour."""
    if os.environ.get("FERRYMAN_TEST_FORK", "1") == "0":
        return False
    if env is None:
        return True
    starting = ("PYTHON", "LC_", "LANG")
    names = {k for k in (*env, *os.environ) if k.startswith(starting)}
    return all(env.get(k) == os.environ.get(k) for k in names)


class _Server:
    """This process's fork server, started at its first use; it ends with this process
    (its standard input, a pipe from here, closes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._address: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def address(self) -> str:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                folder = tempfile.mkdtemp(prefix="ferryman-fork-")
                address = os.path.join(folder, "s")
                code = _SERVER.format(root=str(ROOT), address=address)
                env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
                self._process = subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                    cwd=folder,
                )
                assert self._process.stdout is not None
                line = self._process.stdout.readline()
                if line.strip() != b"ready":
                    raise RuntimeError(f"the fork server did not start: {line!r}")
                self._address = address
            assert self._address is not None
            return self._address


_server = _Server()  # one per test process: what it holds is a cache of imports, no state


def _pipe(spec: Any, reading: bool, own: int) -> tuple[int | None, int, bool]:
    """(our end or None, the child's end, close the child's end here after sending);
    ``None`` passes this process's own stream ``own`` on, as ``Popen`` does."""
    if spec == subprocess.PIPE:
        r, w = os.pipe()
        return (r, w, True) if reading else (w, r, True)
    if spec == subprocess.DEVNULL:
        fd = os.open(os.devnull, os.O_RDWR)
        return None, fd, True
    if spec is None:
        return None, own, False
    if isinstance(spec, int):
        return None, spec, False
    return None, spec.fileno(), False


class Forked:
    """The parts of ``subprocess.Popen`` the tests use, for a forked command."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
        text: bool = False,
        start_new_session: bool = False,
        module: str = "ferryman",
        netns: str | None = None,
    ) -> None:
        self.args = [sys.executable, "-m", module, *args]
        self.returncode: int | None = None
        self.cpu = 0.0
        ends = [_pipe(stdin, reading=False, own=0), _pipe(stdout, reading=True, own=1)]
        if stderr == subprocess.STDOUT:
            ends.append((None, ends[1][1], False))
        else:
            ends.append(_pipe(stderr, reading=True, own=2))
        request = {
            "args": list(args),
            "env": dict(os.environ if env is None else env),
            "cwd": str(cwd or os.getcwd()),
            "new_session": start_new_session,
            "module": module,
            "netns": netns,  # a network namespace (``ip netns``) the child enters first
        }
        self._tell = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._tell.connect(_server.address())
        self._tell.sendmsg(
            [json.dumps(request).encode() + b"\n"],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(_fds([e[1] for e in ends])))],
        )
        for _ours, theirs, close in ends:
            if close:
                os.close(theirs)
        self._told = self._tell.makefile("rb")
        self.pid = int(self._read_message()["pid"])
        self.stdin: IO[Any] | None = _wrap(ends[0][0], "wb", text)
        self.stdout: IO[Any] | None = _wrap(ends[1][0], "rb", text)
        self.stderr: IO[Any] | None = _wrap(ends[2][0], "rb", text)

    def _read_message(self) -> dict[str, Any]:
        line = self._told.readline()
        if not line:
            raise RuntimeError("the fork server went away")
        return dict(json.loads(line))

    def poll(self) -> int | None:
        if self.returncode is None:
            self._tell.setblocking(False)
            try:
                self._tell.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return None
            finally:
                self._tell.setblocking(True)
            self._ended(self._read_message())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._tell.settimeout(timeout)
            try:
                self._tell.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            finally:
                self._tell.settimeout(None)
            self._ended(self._read_message())
        assert self.returncode is not None
        return self.returncode

    def _ended(self, message: dict[str, Any]) -> None:
        self.returncode = int(message["status"])
        self.cpu = float(message.get("cpu", 0.0))
        _spent[0] += self.cpu
        self._told.close()
        self._tell.close()

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(
        self, input: str | bytes | None = None, timeout: float | None = None
    ) -> tuple[Any, Any]:
        read: dict[str, Any] = {}
        threads = [
            threading.Thread(target=lambda n=name, s=stream: read.__setitem__(n, s.read()))
            for name, stream in (("out", self.stdout), ("err", self.stderr))
            if stream is not None
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        if self.stdin is not None:
            if input:
                with contextlib.suppress(BrokenPipeError):  # it ended without reading
                    self.stdin.write(input)
            self.stdin.close()
        self.wait(timeout)
        for thread in threads:
            thread.join()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        return read.get("out"), read.get("err")

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait()


_spent = [0.0]  # the forked commands' CPU, for tests/support/cost.py


def spent() -> float:
    """CPU-seconds the commands this process forked spent, once ended."""
    return _spent[0]


def _fds(fds: list[int]) -> bytes:
    import array

    return array.array("i", fds).tobytes()


def _wrap(fd: int | None, mode: str, text: bool) -> IO[Any] | None:
    """Our end of a pipe, as ``Popen`` gives it (text in the locale's encoding)."""
    if fd is None:
        return None
    if not text:
        return open(fd, mode, buffering=0 if mode == "wb" else -1)
    encoding = locale.getpreferredencoding(False)
    if mode == "wb":
        return io.TextIOWrapper(open(fd, "wb"), encoding=encoding, write_through=True)
    return open(fd, encoding=encoding)


Process = Forked | subprocess.Popen[Any]  # what ``popen`` answers


def popen(args: Sequence[str], **options: Any) -> Process:
    """``ferryman *args`` started, forked when ``enabled()``; in the network namespace
    ``netns`` (``ip netns add``) when given: the fork enters it before the command runs,
    as ``ip netns exec`` would, which started it afresh."""
    if not enabled(options.get("env")):
        netns = options.pop("netns", None)
        entering = ["ip", "netns", "exec", netns] if netns else []
        module = options.pop("module", "ferryman")
        return subprocess.Popen([*entering, sys.executable, "-m", module, *args], **options)
    return Forked(args, **options)


class AsyncForked:
    """The parts of ``asyncio.subprocess.Process`` the tests use (``pid``, ``returncode``,
    ``wait``, ``kill``), for a forked module. Its end is waited for on a thread of its
    own, the one reader of the fork server's word (not the loop's executor, which a
    child that runs for a minute would hold a slot of)."""

    def __init__(self, forked: Forked) -> None:
        self._forked = forked
        self.pid = forked.pid
        self.returncode: int | None = None
        self._ended: asyncio.Future[int] | None = None

    async def wait(self) -> int:
        if self._ended is None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[int] = loop.create_future()

            def settle(code: int) -> None:
                if not ended.done():
                    ended.set_result(code)

            def waiting() -> None:
                code = self._forked.wait()
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    loop.call_soon_threadsafe(settle, code)

            threading.Thread(target=waiting, name=f"forked-{self.pid}", daemon=True).start()
            self._ended = ended
        self.returncode = await asyncio.shield(self._ended)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, unless it was seen to end (until the fork server reaps it, its pid
        is its own)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


AsyncProcess = AsyncForked | asyncio.subprocess.Process  # what ``start_module`` answers


async def start_module(module: str, args: Sequence[str], **options: Any) -> AsyncProcess:
    """``python -m module *args`` started, forked when ``enabled()``, as
    ``asyncio.create_subprocess_exec`` answers (its ``pid``, ``wait`` and ``kill``): a
    test's child that imports the engine skips ~0.6 CPU-s of imports a start. A module
    that patches what it imports must patch every module that took the name (the server
    imported the engine before it, and a name taken from a module keeps the unpatched
    one): ``deliverfault_child`` patches ``flat``'s ``album_layout`` too."""
    if not enabled(options.get("env")):
        return await asyncio.create_subprocess_exec(sys.executable, "-m", module, *args, **options)
    # off the loop: the first request starts this process's fork server (its imports)
    return AsyncForked(await asyncio.to_thread(Forked, args, module=module, **options))


def run(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """``ferryman *args`` to its end, as ``subprocess.run`` answers (``module=``: another
    module's, as ``python -m module *args``)."""
    if capture_output:
        options |= {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if not enabled(options.get("env")):
        module = options.pop("module", "ferryman")
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            input=input, timeout=timeout, check=check, **options,
        )  # fmt: skip
    if input is not None:
        options["stdin"] = subprocess.PIPE
    process = Forked(args, **options)
    try:
        out, err = process.communicate(input, timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    done = subprocess.CompletedProcess(process.args, process.wait(), out, err)
    if check:
        done.check_returncode()
    return done
