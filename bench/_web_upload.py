"""``bench web``'s upload row: a big file through ``ferryman web`` as the page sends it
(8 MiB PUTs with ``Content-Range``, each answer read before the next), at loopback
speed, with the default settings (``web.rate_limit`` 120 a minute). 2 GiB is 256
pieces: counted in the budget, the upload met 429 at the 120th request. Zeros, read
from memory: the figure is the server's (parse, write, fsync), not a disk's read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

PIECE = 8 * 1024 * 1024  # the page's (static/app.js)


def upload_through_web(work: Path, mib: int) -> dict[str, float]:
    """Seconds, pieces and 429s of a ``mib`` MiB upload to a fresh ``ferryman web``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferryman", "--data-dir", str(work / "upload-data"), "web",
         "--port", "0", "--no-engine"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        base = ""
        for line in proc.stdout:
            if line.startswith("ferryman web: http://"):
                base = line.split()[2].rstrip("/")
                break
        if not base:
            raise RuntimeError("ferryman web did not start")
        size = mib * 1024 * 1024
        zeros = bytes(PIECE)
        limited = pieces = 0
        with httpx.Client(base_url=base, timeout=120) as client:
            made = client.post("/api/v1/uploads", json={"name": "big.bin", "size": size})
            made.raise_for_status()
            url = f"/api/v1/uploads/{made.json()['id']}"
            began = time.perf_counter()
            offset = 0
            while offset < size:
                end = min(offset + PIECE, size)
                answer = client.put(
                    url,
                    content=zeros[: end - offset],
                    headers={"Content-Range": f"bytes {offset}-{end - 1}/{size}"},
                )
                if answer.status_code == 429:  # what the page does: wait, then on
                    limited += 1
                    time.sleep(float(answer.headers.get("retry-after", "1")))
                    continue
                answer.raise_for_status()
                offset = int(answer.json()["offset"])
                pieces += 1
            seconds = time.perf_counter() - began
        return {"seconds": seconds, "pieces": pieces, "limited": limited, "size": size}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
