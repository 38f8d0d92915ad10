"""``python -m bench torbox``: a Torbox torrent into the library, against a bare loop.

The tests' fake Torbox API (``tests/support/faketorbox.py``) and its CDN (the fault server,
paced to 100 Mbit/s with 20 ms before each response) run in a child process. The
torrent holds ``--tb-files`` camera-sized photos (about 1 MB) and one 10 MiB photo.
Two runs each, on the same server in the same run:

- links that last: ferryman (``add torbox:torrent/1`` then ``run --until-idle`` in child
  processes on a fresh data dir) against a bare httpx loop (``mylist``, then per file
  ``requestdl`` and one GET to a file: no durability, no media checks);
- every fifth file's link expiring half-way through: ferryman renews it and resumes at
  the byte reached; the loop does what a script would, asks again and starts over.

The CDN counts the bytes it sent; the ratio to the torrent's size is what the link
carried.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench._common import Check, Result, Table, fmt_ratio, fmt_seconds, progress, scratch

LINK_BYTES_PER_S = 100e6 / 8
LATENCY = 0.020
_LINK = (str(LINK_BYTES_PER_S), str(LATENCY))
API_KEY = "tb-key-0123456789abcdef"  # tests/faketorbox.API_KEY
_SERVER = """
import json, sys
from tests.support.faketorbox import torbox_serving
from tests.support.httpserve import Faults, Link, serving
listed = json.load(open(sys.argv[1]))
files = [(p, open(f, "rb").read(), "image/jpeg") for p, f in listed]
with serving(Link(float(sys.argv[2]), float(sys.argv[3]))) as cdn, torbox_serving(cdn) as fake:
    fake.add("torrent", 1, "Bench", files)
    print(fake.base, flush=True)
    for line in sys.stdin:
        if line.strip() == "expire":  # every fifth file's link runs out half-way, once
            for n, (_, data, _) in enumerate(files):
                if n % 5 == 0:
                    path = fake.cdn_path("torrent", 1, n)
                    cdn.resources[path].faults = Faults(
                        cut_at=len(data) // 2, cut_times=1, expire_token_on_cut=True
                    )
        print(json.dumps([sum(cdn.served.values()), sum(fake.links.values())]), flush=True)
"""


def _photos(folder: Path, count: int) -> list[tuple[str, Path]]:
    """``count`` distinct ~1 MB photos and one 10 MiB one (read past two 4 MiB blocks)."""
    import io
    import random

    from PIL import Image

    from bench.network import _camera_photo

    folder.mkdir(parents=True, exist_ok=True)
    base = [_camera_photo(folder / f"base{n}.jpg", n) for n in range(4)]
    listed = []
    for n in range(count):
        path = folder / f"IMG_{n:04d}.jpg"
        path.write_bytes(base[n % len(base)] + n.to_bytes(8, "big"))  # distinct bytes
        listed.append((f"DCIM/{path.name}", path))
    big = io.BytesIO()
    noise = random.Random(7).randbytes(3900 * 2900 * 3)
    Image.frombytes("RGB", (3900, 2900), noise).save(big, "JPEG", quality=92)
    (folder / "PANO.jpg").write_bytes(big.getvalue())
    listed.append(("DCIM/PANO.jpg", folder / "PANO.jpg"))
    return listed


def _ferryman(base: str, data: Path) -> float:
    import os

    env = os.environ | {"FERRYMAN_TORBOX__API_KEY": API_KEY, "FERRYMAN_TORBOX__API_BASE": base}
    ferryman = [sys.executable, "-m", "ferryman", "--data-dir", str(data)]
    started = time.perf_counter()
    for argv in (["add", "torbox:torrent/1"], ["run", "--until-idle"]):
        subprocess.run([*ferryman, *argv], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def _loop(base: str, dest: Path) -> float:
    """What a script does: list, then per file a link and one GET; a 403 asks again."""
    import httpx

    started = time.perf_counter()
    dest.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=60) as client:
        bearer = {"Authorization": f"Bearer {API_KEY}"}
        item = client.get(f"{base}/v1/api/torrents/mylist?id=1", headers=bearer).json()["data"]
        for file in item["files"]:
            while True:
                params = {"token": API_KEY, "torrent_id": 1, "file_id": file["id"]}
                link = client.get(f"{base}/v1/api/torrents/requestdl", params=params)
                try:
                    with (
                        client.stream("GET", link.json()["data"]) as got,
                        (dest / file["short_name"]).open("wb") as out,
                    ):
                        got.raise_for_status()
                        for chunk in got.iter_bytes():
                            out.write(chunk)
                    break
                except httpx.HTTPError:
                    continue  # cut or expired: a fresh link, from the start
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> Result:
    count = int(args.tb_files)
    result = Result("torbox", f"a Torbox torrent of {count + 1} photos into the library")
    with scratch("torbox", args.tmp_dir, args.keep) as tmp:
        progress("making photos")
        listed = _photos(tmp / "made", count)
        total = sum(p.stat().st_size for _, p in listed)
        (tmp / "files.json").write_text(json.dumps([[name, str(p)] for name, p in listed]))
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(tmp / "files.json"), *_LINK],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        base = server.stdout.readline().strip()

        def counters(command: str = "") -> tuple[int, int]:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(command + "\n")
            server.stdin.flush()
            served, links = json.loads(server.stdout.readline())
            return int(served), int(links)

        rows: list[tuple[str, float, float, int]] = []
        delivered: list[int] = []
        try:
            for expiring in (False, True):
                for who in ("loop", "ferryman"):
                    before, links_before = counters("expire" if expiring else "")
                    progress(f"{who}, links {'expiring' if expiring else 'lasting'}")
                    where = tmp / f"{who}-{int(expiring)}"
                    took = _loop(base, where) if who == "loop" else _ferryman(base, where)
                    after, links_after = counters()
                    label = f"{who}{', links expire' if expiring else ''}"
                    rows.append((label, took, (after - before) / total, links_after - links_before))
                    if who == "ferryman":
                        delivered.append(sum(1 for _ in (where / "library").rglob("*.jpg")))
        finally:
            server.stdin.close()
            server.terminate()
            server.wait(10)
        table = Table(["run", "time", "vs bare loop", "bytes / torrent", "links asked"])
        for n, (label, took, ratio, links) in enumerate(rows):
            loop_time = rows[n - n % 2][1]
            table.add(label, fmt_seconds(took), fmt_ratio(took / loop_time), f"{ratio:.3f}", links)
        result.tables.append(
            (f"{count + 1} files, {total / 2**20:.1f} MiB, 100 Mbit/s + 20 ms link", table)
        )
        renewed = rows[3][2]
        result.checks.append(
            Check(
                "bytes crossing the link, links expiring",
                f"{renewed:.3f}",
                "<= 1.05",
                renewed <= 1.05,
            )
        )
        result.checks.append(
            Check(
                "every photo in the library, both runs",
                str(delivered),
                str([count + 1] * 2),
                delivered == [count + 1] * 2,
            )
        )
        result.notes.append(
            "ferryman's time includes two process starts, a durable (fsynced) staged copy of"
            " every file, media checks and the album bookkeeping; the loop only copies"
        )
    return result
