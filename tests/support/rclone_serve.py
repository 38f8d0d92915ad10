"""rclone's own servers on loopback (``rclone serve webdav`` / ``serve sftp`` over a
folder), for tests of ``rclone:`` remotes against real backends, and the config part
naming each as a remote."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.waiting import eventually_sync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def obscured(binary: str, secret: str) -> str:
    """``secret`` as rclone.conf keeps a password (``rclone obscure``)."""
    return subprocess.run(
        [binary, "obscure", secret], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def serve(binary: str, kind: str, folder: Path, name: str) -> Iterator[str]:
    """``rclone serve KIND`` (``webdav``, ``sftp``) over ``folder`` on loopback, user
    ann, password secret; the rclone.conf part naming it remote ``name``."""
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "serve",
            kind,
            str(folder),
            f"--addr=127.0.0.1:{port}",
            "--user=ann",
            "--pass=secret",
            "--config=/dev/null",
            # Files put in the folder by a test are listed at once. Not 0s: rclone's VFS
            # then re-arms its cache-cleanup timer at zero without end, a goroutine a
            # firing, and the server spins both cores for as long as it lives (a kill
            # test's `serve sftp` took 25 CPU-s in the suite; 1 ms: 1.2).
            "--dir-cache-time=1ms",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
            return True

        eventually_sync(listening, f"rclone serve {kind} listening", within=20)
        secret = obscured(binary, "secret")
        if kind == "webdav":
            yield (
                f"[{name}]\ntype = webdav\nurl = http://127.0.0.1:{port}/\nvendor = rclone\n"
                f"user = ann\npass = {secret}\n\n"
            )
        else:
            yield (
                f"[{name}]\ntype = sftp\nhost = 127.0.0.1\nport = {port}\nuser = ann\n"
                f"pass = {secret}\n\n"
            )
    finally:
        proc.kill()
        proc.wait()
