"""A zip read in place over HTTP, its `ferryman run` killed ten times at seeded random
moments: the bytes a real loopback server sent stay within 1.3x the zip (issue 83; they
were 1.7-2.75x when each restart's reads asked for the rest of the file, which the
kernel's buffers took in, and an album's worth of photos read waited to be recorded).
Each entry is asked for up to its end (``net.rangewindows``), and entries read where
they lie are recorded every ``entry_batch.at_risk`` bytes (128 KiB here)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.support import forked
from tests.support.httpserve import FaultServer, Link, serving
from tests.support.waiting import eventually_sync

MB = 1_000_000


def _noisy_photos(count: int, seed: int) -> list[tuple[str, bytes]]:
    """JPEGs of random pixels (~185 KB each: noise does not compress)."""
    rng = random.Random(seed)
    photos = []
    for number in range(count):
        image = Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=75)
        photos.append((f"p{number:03d}.jpg", out.getvalue()))
    return photos


def _zip(photos: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in photos:
            zf.writestr(name, data)
    return out.getvalue()


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {
        "FERRYMAN_DATA_DIR": str(root / "data"),
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_SPACE_FLOOR": "0",
        "FERRYMAN_NETWORK__BLOCK_PRIVATE": "false",
    }


def _kill_while_it_reads(
    server: FaultServer, env: dict[str, str], rng: random.Random, kills: int
) -> int:
    """SIGKILL `ferryman run` a random 0-0.4 s after the zip's bytes start to flow, up to
    ``kills`` times; then a last run finishes. Returns the kills that landed."""
    landed = 0
    for _ in range(3 * kills):
        before = server.served["/trip.zip"]
        proc = forked.popen(
            ["run", "--until-idle"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        eventually_sync(
            lambda proc=proc, before=before: (  # type: ignore[misc]
                proc.poll() is not None or server.served["/trip.zip"] > before
            ),
            "the zip's bytes flowing",
            within=60,
            every=0.005,
        )
        # The kill's moment: a random 0-0.4 s on (as `python -m bench zip-kills`), unless
        # the run ends first.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        landed += 1
        if landed >= kills:
            break
    final = forked.popen(["run", "--until-idle"], env=env, stderr=subprocess.PIPE)
    assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""
    return landed


@pytest.mark.slow
def test_ten_kills_while_a_zip_is_read_in_place_cost_at_most_1_3x_its_bytes(
    tmp_path: Path,
) -> None:
    photos = _noisy_photos(54, seed=83)
    data = _zip(photos)
    assert 9.5 * MB < len(data) < 11 * MB
    env = _env(tmp_path)
    # The zip at 1.5 MB/s: ten kills a run's 0.4 s at most after its bytes start take at
    # most 6 of its 10 MB, so each lands. On loopback's speed a calm machine read it
    # whole within nine (the tenth run ended first: 9 kills landed, not 10).
    with serving(Link(bandwidth=1.5 * MB)) as server:
        server.add("/trip.zip", data)
        added = forked.run(
            ["add", server.url("/trip.zip"), "--to", f"library:{tmp_path / 'lib'}"],
            env=env,
            capture_output=True,
        )
        assert added.returncode == 0, added.stderr
        landed = _kill_while_it_reads(server, env, random.Random(83), kills=10)
        served = server.served["/trip.zip"]
    delivered = {p.read_bytes() for p in (tmp_path / "lib").rglob("*.jpg")}
    assert delivered == {data for _, data in photos}
    assert landed == 10
    print(f"served {served / len(data):.3f}x the zip over {landed} kills")
    assert served <= 1.3 * len(data)
