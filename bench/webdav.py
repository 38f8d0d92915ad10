"""``python -m bench webdav``: a WebDAV folder into the library, against ``rclone copy``.

A wsgidav server (cheroot) in a child process serves ``--dav-files`` photos (500) spread
over 10 folders. ferryman runs as a user would, in child processes: ``ferryman add
dav://…/Photos/`` then ``ferryman run --until-idle`` on a fresh data dir (walk, each
file read by Range, staged durably, delivered). The baselines copy the same folder in
the same run: ``rclone copy`` (4 transfers at once, its default) when rclone is
installed (Debian: ``apt-get install rclone``), and always a plain loop of webdav4's
``Client.download_file`` (one file at a time, no durability), which is what ferryman's
walk and reads are built on. A last row times ferryman's WebDAV source by itself (the
walk and every Range read, bytes dropped), to show how much of ferryman's time is the
network's.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench._common import Check, Result, Table, fmt_ratio, fmt_seconds, progress, scratch
from ferryman.samples import make_photo_set

FOLDERS = 10
_SERVER = """
import sys, threading
from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp
app = WsgiDAVApp({"provider_mapping": {"/": sys.argv[1]}, "verbose": 0,
                  "logging": {"enable": False}, "simple_dc": {"user_mapping": {"*": True}}})
server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
server.prepare()
print(server.bind_addr[1], flush=True)
server.serve()
"""


def _tree(root: Path, count: int) -> int:
    """``count`` photos (1280×960 JPEGs) in ``FOLDERS`` folders; their bytes."""
    photos = make_photo_set(root.parent / "made", count, size=(1280, 960))
    total = 0
    for n, photo in enumerate(photos):
        folder = root / f"day-{n % FOLDERS:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        total += (folder / photo.name).write_bytes(photo.read_bytes())
    return total


def _timed(argv: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def _ferryman(port: int, data: Path) -> float:
    ferryman = [sys.executable, "-m", "ferryman", "--data-dir", str(data)]
    started = time.perf_counter()
    subprocess.run(
        [*ferryman, "add", f"dav://127.0.0.1:{port}/Photos/"], check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run([*ferryman, "run", "--until-idle"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _webdav4_loop(port: int, dest: Path) -> float:
    from webdav4.client import Client

    started = time.perf_counter()
    client = Client(f"http://127.0.0.1:{port}/")
    pending = ["Photos"]
    while pending:
        folder = pending.pop()
        for child in client.ls(folder, detail=True):
            name = str(child["name"]).rstrip("/")
            if child["type"] == "directory":
                pending.append(name)
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(name, target)
    return time.perf_counter() - started


def _source_alone(port: int, scratch_dir: Path) -> tuple[float, int]:
    """ferryman's WebDAV source by itself: the walk and every file read by Range, the
    bytes dropped (no staging, no engine); says what of ferryman's time is the network's."""
    from ferryman.sources.base import ReadOptions
    from ferryman.sources.webdav import WebdavSource

    started = time.perf_counter()
    read = 0
    options = ReadOptions(scratch=scratch_dir)
    with WebdavSource().open(f"dav://127.0.0.1:{port}/Photos/", options) as entries:
        for entry in entries:
            read += sum(len(block) for block in entry.read_blocks())
    return time.perf_counter() - started, read


def run(args: argparse.Namespace) -> Result:
    count = args.dav_files
    result = Result("webdav", f"{count} photos in {FOLDERS} folders over WebDAV into the library")
    with scratch("webdav", args.tmp_dir, args.keep) as tmp:
        total = _tree(tmp / "served" / "Photos", count)
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(tmp / "served")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            table = Table(["run", "time", "files/s", "vs ferryman"])
            progress("webdav4 download_file loop")
            loop = _webdav4_loop(port, tmp / "loop")
            rclone: float | None = None
            if shutil.which("rclone"):
                progress("rclone copy")
                rclone = _timed(
                    [
                        "rclone",
                        "copy",
                        f"--webdav-url=http://127.0.0.1:{port}/",
                        ":webdav:Photos",
                        str(tmp / "rclone"),
                    ]
                )
            else:
                result.notes.append(
                    "rclone is not installed (apt-get install rclone): no rclone row"
                )
            progress("ferryman's source alone")
            alone, read = _source_alone(port, tmp / "alone")
            progress("ferryman add + run")
            ours = _ferryman(port, tmp / "data")
            delivered = sum(1 for p in (tmp / "data" / "library").rglob("*.jpg"))
        finally:
            server.terminate()
            server.wait(10)
        table.add("ferryman add + run", fmt_seconds(ours), f"{count / ours:.0f}", "1.00x")
        if rclone is not None:
            table.add(
                "rclone copy",
                fmt_seconds(rclone),
                f"{count / rclone:.0f}",
                fmt_ratio(ours / rclone),
            )
        table.add("webdav4 loop", fmt_seconds(loop), f"{count / loop:.0f}", fmt_ratio(ours / loop))
        table.add(
            "ferryman source alone",
            fmt_seconds(alone),
            f"{count / alone:.0f}",
            fmt_ratio(ours / alone),
        )
        result.tables.append((f"{count} files, {total / 2**20:.1f} MiB, one server process", table))
        result.checks.append(
            Check("every photo in the library", str(delivered), str(count), delivered == count)
        )
        result.checks.append(
            Check("the source alone read every byte", str(read), str(total), read == total)
        )
        result.checks.append(
            Check(
                "source alone vs webdav4 loop",
                fmt_ratio(alone / loop),
                "<= 1.50x",
                alone <= 1.5 * loop,
            )
        )
        result.notes.append(
            "ferryman's time includes two process starts, the walk, a durable (fsynced) staged"
            " copy of every file and the album bookkeeping; the baselines only copy. 'source"
            " alone' is the same walk and Range reads with the bytes dropped (the webdav4 loop"
            " writes its files, unsynced): the rest of"
            " ferryman's time is the engine's, not the network's"
        )
    return result
