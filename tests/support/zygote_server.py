"""The fork server behind ``tests/support/forked.py``: run as ``python -c`` by that module,
never imported by a test.

It imports what ``ferryman`` commands load (the CLI, the engine, the store, the web app's
libraries) once, then waits, single-threaded, on a Unix socket. Each request (a command's
arguments, environment, working folder and its three standard streams, passed as file
descriptors) is answered by a fork: the child puts the environment, folder and streams in
place and runs ``ferryman/__main__.py`` as ``python -m ferryman`` would (or the module
the request names, as ``python -m`` would), then ends as an interpreter ends, in its
order: non-daemon threads joined, ``atexit`` run, the standard streams flushed, the exit
status (or traceback) as ``python -m`` gives it (``run_as_main``). What it skips is the
interpreter's teardown of every module and object, which in a fork of this server is
most of a light command's CPU (the modules imported here, each page copied as it is
freed: ``ferryman --version`` 0.07-0.10 -> 0.01 CPU-s, ``status`` 0.09-0.14 -> 0.04).
The server tells the client the child's pid at once and its exit status (and CPU time)
once reaped.

Why: a ``ferryman`` process spends ~0.6-1.4 CPU-s importing before its first line of
work, and the suite starts hundreds of them (docs/testing.md, "Forked commands").
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any

PRELOAD = (
    "ferryman.frontdoors.cli.root",
    "ferryman.frontdoors.cli.work",  # the commands' modules load when asked for (cli.lazy)
    "ferryman.frontdoors.cli.status",
    "ferryman.frontdoors.cli.job",
    "ferryman.frontdoors.cli.run",
    "ferryman.frontdoors.startup",
    "ferryman.engine.runner",
    "ferryman.engine.read.step",
    "ferryman.config",
    "ferryman.store.sqla_async",
    "ferryman.store.startup.sqlite3_store",
    "ferryman.sources.builtin",
    "ferryman.sinks.builtin",
    "ferryman.web.app",
    "uvicorn",
    "PIL.Image",
    "httpx",
    "asyncio",
    "aiosqlite",
)


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # a name moved: the child imports it itself
            importlib.import_module(name)
    import gc

    gc.collect()
    gc.freeze()  # the imports' objects out of every child's collections (and their pages)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data = b""
    while not data.endswith(b"\n"):
        message, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_LEN(3 * fds.itemsize))
        if not message:
            raise EOFError
        data += message
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    return json.loads(data), list(fds)


def _tell(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the client went (its test ended): nothing to tell
        conn.sendall(json.dumps(message).encode() + b"\n")


def serve(address: str) -> tuple[dict[str, Any], list[int]] | None:
    """Answer requests until the client side closes; in a forked child, return its
    request (and streams) for the top level to run."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listen")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(0, selectors.EVENT_READ, "parent")
    waiting: dict[int, socket.socket] = {}
    import threading

    if threading.active_count() != 1:  # a fork keeps one thread: another's locks would hang
        print(f"threads after the imports: {threading.enumerate()}", flush=True)
        return None
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data == "parent":  # the pytest worker ended (its pipe closed)
                if not os.read(0, 1):
                    return None
            elif key.data == "child":
                os.read(wake_r, 4096)
                _reap(waiting)
            else:
                conn, _ = listener.accept()
                try:
                    request, fds = _receive(conn)
                except (EOFError, OSError, ValueError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:  # the command: leave the server's loop for the top level
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    for fd in (listener.fileno(), wake_r, wake_w):
                        os.close(fd)
                    for other in waiting.values():
                        other.close()
                    request["tell"] = conn.detach()
                    return request, fds
                for fd in fds:
                    os.close(fd)
                waiting[pid] = conn
                _tell(conn, {"pid": pid})


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            code = os.waitstatus_to_exitcode(status)
            _tell(conn, {"status": code, "cpu": usage.ru_utime + usage.ru_stime})
            conn.close()


def become(request: dict[str, Any], fds: list[int]) -> str:
    """Put the command's world in place, as a fresh ``python -m <module>`` would find it;
    the module to run (``ferryman``, or a test's child such as
    ``tests.support.telegram_child``)."""
    os.close(request.pop("tell"))  # the status comes from the server's wait, not from here
    if request.get("netns"):
        _enter_netns(str(request["netns"]))
    if request.get("new_session"):
        os.setsid()
    for target, fd in zip((0, 1, 2), fds, strict=True):
        if fd != target:
            os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["ferryman", *request["args"]]
    sys.path[0] = request["cwd"]
    return str(request.get("module", "ferryman"))


def _enter_netns(name: str) -> None:
    """Into the network namespace ``name`` as ``ip netns exec`` enters it (``setns`` on its
    file; os.setns is Python 3.12's): this child has one thread and no socket yet, so every
    socket and thread it makes is in the namespace. ``/sys`` stays the host's (``ip netns
    exec`` mounts the namespace's): a command that reads its interfaces there (the
    device's conditions, tests/engine/test_offline.py) is started by ``ip netns exec``."""
    import ctypes

    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns into network namespace {name}")
    finally:
        os.close(fd)


def run_as_main(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: ``become`` the command, run its module as ``python -m`` runs
    it, and end as the interpreter would (``Py_RunMain``, then ``Py_FinalizeEx``'s first
    steps): the exit status ``SystemExit`` carries, or 1 and the traceback for another
    exception (an uncaught Ctrl-C ends by SIGINT); non-daemon threads joined, ``atexit``
    run, stdout and stderr flushed (120 if stdout's flush fails). Then ``os._exit``,
    without tearing down the modules and objects (see the module's docstring)."""
    import runpy

    module = become(request, fds)
    main = vars(sys.modules["__main__"])
    for name in ("z", "got"):  # the server's -c names: the module finds a bare __main__
        main.pop(name, None)
    code, interrupted = 0, False
    try:
        runpy._run_module_as_main(module)  # type: ignore[attr-defined]
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException as exc:  # printed as the interpreter prints it
        interrupted = isinstance(exc, KeyboardInterrupt)
        # from runpy's frame on, as ``python -m`` prints it (not this function's)
        shown = exc.with_traceback(exc.__traceback__ and exc.__traceback__.tb_next)
        sys.excepthook(type(shown), shown, shown.__traceback__)
        code = 1
    os._exit(_finalize(code, interrupted))


def _exit_status(exc: SystemExit) -> int:
    """What ``python`` exits with for an uncaught ``SystemExit`` (``handle_system_exit``):
    its code if an int, 0 for None, else the code printed to stderr and 1."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1


def _finalize(code: int, interrupted: bool) -> int:
    import atexit
    import threading

    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    try:
        if sys.stdout is not None and not sys.stdout.closed:
            sys.stdout.flush()
    except Exception:  # as the interpreter: noted, and the status is 120
        with contextlib.suppress(Exception):
            sys.stderr.write("Exception ignored on flushing sys.stdout\n")
        code = 120
    with contextlib.suppress(Exception):
        if sys.stderr is not None and not sys.stderr.closed:
            sys.stderr.flush()
    if interrupted:  # as ``exit_sigint``: the parent sees a SIGINT's end
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code
