"""``python -m bench zip-kills``: a zip read in place over HTTP, `ferryman run` killed
ten times at seeded random moments (0-0.4 s after its bytes start to flow); the bytes
a real loopback server sent, against the zip's size (issue 83: at most 1.3x on a
10 MB zip, 1.05x on a 1 GB one). ``BENCH_ZIP_MB``: the zip's size (10).
``BENCH_ZIP_KILLS``: ``early`` (the default, as above) or ``spread``: each run is killed
once the server has sent it a seeded random share of the zip (0 to 2/11 of it), so the
ten kills fall all along the fetch, not in its first seconds (on a 1 GB zip, ten runs
of 0.4 s read 1% of it). ``BENCH_ZIP_ENTRY_MB``: entries of that size instead of the
photos (``samples.make_bulk_zip``: a small JPEG and random padding each), to see what a
kill inside an entry larger than the read-ahead costs (a stored entry killed mid-way is
resumed from its middle: ``engine/read/resume.py``). ``BENCH_ZIP_METHOD=deflated``: those
entries deflated (level 1; the padding does not shrink), which are not resumed: an entry
cut mid-read is read again from its start.

The zip: JPEGs of random pixels (~185 KB each), stored. Each run is a real `ferryman`
process on one data folder; the server counts the body bytes it wrote.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from bench._common import Check, Result, progress, scratch

KILLS = 10


def _zip(megabytes: float, seed: int) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        number = 0
        while out.tell() < megabytes * 1e6:
            image = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
            photo = io.BytesIO()
            image.save(photo, "JPEG", quality=75)
            zf.writestr(f"p{number:05d}.jpg", photo.getvalue())
            number += 1
    return out.getvalue()


def _deflated(path: Path) -> Path:
    """The zip at ``path`` again, its entries deflated (level 1), in its place."""
    out = path.with_name("deflated.zip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", compresslevel=1) as dst:
        for member in src.infolist():
            info = zipfile.ZipInfo(member.filename, member.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            with src.open(member) as reading, dst.open(info, "w") as writing:
                while block := reading.read(1 << 20):
                    writing.write(block)
    path.unlink()
    return out


def run(args: argparse.Namespace) -> Result:
    from tests.support.httpserve import serving

    megabytes = float(os.environ.get("BENCH_ZIP_MB", "10"))
    spread = os.environ.get("BENCH_ZIP_KILLS", "early") == "spread"
    when = "all along the fetch" if spread else "early in each run"
    result = Result(
        "zip-kills", f"a {megabytes:.0f} MB zip read in place, killed {KILLS} times {when}"
    )
    rng = random.Random(83)
    with scratch("zip-kills", args.tmp_dir, args.keep) as root:
        entry_mb = float(os.environ.get("BENCH_ZIP_ENTRY_MB", "0"))
        if entry_mb:
            from ferryman.samples.archives import make_bulk_zip

            path = make_bulk_zip(
                root / "bulk.zip", total_bytes=int(megabytes * 1e6), entry_bytes=int(entry_mb * 1e6)
            )
            if os.environ.get("BENCH_ZIP_METHOD", "stored") == "deflated":
                path = _deflated(path)
            data = path.read_bytes()
            path.unlink()
        else:
            data = _zip(megabytes, 83)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
        env |= {
            "FERRYMAN_DATA_DIR": str(root / "data"),
            "FERRYMAN_POLL_SECONDS": "0.05",
            "FERRYMAN_SPACE_FLOOR": "0",
            "FERRYMAN_NETWORK__BLOCK_PRIVATE": "false",
        }
        ferryman = [sys.executable, "-m", "ferryman"]
        with serving() as server:
            server.add("/trip.zip", data)
            subprocess.run(
                [*ferryman, "add", server.url("/trip.zip"), "--to", f"library:{root / 'lib'}"],
                env=env,
                check=True,
                capture_output=True,
            )
            kills = 0
            while kills < KILLS:
                before = server.served["/trip.zip"]
                proc = subprocess.Popen([*ferryman, "run", "--until-idle"], env=env)
                if spread:  # once this run was sent a random share of the zip
                    share = rng.uniform(0.0, 2 / (KILLS + 1)) * len(data)
                    while proc.poll() is None and server.served["/trip.zip"] - before < share:
                        time.sleep(0.005)
                else:
                    while proc.poll() is None and server.served["/trip.zip"] <= before:
                        time.sleep(0.005)
                    time.sleep(rng.uniform(0.0, 0.4))
                if proc.poll() is not None:
                    break
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                progress(f"zip-kills: kill {kills}, {server.served['/trip.zip'] / len(data):.2f}x")
            subprocess.run([*ferryman, "run", "--until-idle"], env=env, check=True)
            served = server.served["/trip.zip"]
    ratio = served / len(data)
    limit = 1.3 if megabytes <= 100 else 1.05
    method = os.environ.get("BENCH_ZIP_METHOD", "stored")
    shape = f"{method} entries of {entry_mb:g} MB" if entry_mb else "photos of ~185 KB"
    result.notes.append(
        f"{len(data) / 1e6:.1f} MB zip ({shape}), {kills} kills, {served / 1e6:.1f} MB sent"
    )
    result.checks.append(
        Check("bytes sent over the zip", f"{ratio:.3f}x", f"<= {limit}x", ratio <= limit)
    )
    result.data = {"zip_bytes": len(data), "served": served, "kills": kills, "spread": spread}
    return result
