"""Hostile media through a real ``ferryman run`` (issue 56 item 1): the file ends alone
with a code (the library, which decodes nothing, keeps it as it is, its code the reason),
the engine's own memory stays small, the rest and the jobs behind it are delivered, and
SIGTERM stops the engine within its grace.

Real parts: MP4s written by PyAV whose sample tables are then patched to declare 88
million samples (``tests/support/media_bombs``), a Pillow PNG, the CLI in a process of
its own; its own peak (``VmHWM``) is read as it exits. Before the media box, the
88M-sample MP4 was decoded in the engine (~1.1 GiB here, 4 s; 3 GiB in the issue), the
30-track one held its job and the one behind it for ~2 minutes, and so a stop; the
picture was fitted in the engine (~300 MiB).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ferryman.samples import make_photo, make_video
from tests.support.media_bombs import flat_png, sample_count_bomb
from tests.support.waiting import eventually_sync

# The engine's own peak: a run of a few small files stays near 100 MiB; decoding the
# 88M-sample MP4 in it took ~1.1 GiB, the picture ~300 MiB.
ENGINE_PEAK_MIB = 250
GRACE = 30.0  # seconds: the runner's STOP_GRACE_SECONDS (20) and the exit

# Runs the CLI and writes its own VmHWM (KiB) where FERRYMAN_TEST_PEAK says, at exit.
_PEAK = """
import atexit, os, runpy
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["FERRYMAN_TEST_PEAK"], "w") as out:
        out.write(kib)
atexit.register(peak)
runpy.run_module("ferryman", run_name="__main__")
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {
        "FERRYMAN_DATA_DIR": str(tmp_path / "data"),
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_SPACE_FLOOR": "0",
        "FERRYMAN_TEST_PEAK": str(tmp_path / "peak"),
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _PEAK, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _add(env: dict[str, str], *inputs: Path) -> None:
    added = _cli(env, "add", *map(str, inputs))
    assert added.wait(60) == 0, added.stderr.read() if added.stderr else ""


def _items(tmp_path: Path) -> dict[str, tuple[str, str | None]]:
    """Each item's (state, error code) by its name in its input; of a file the library
    kept as it is, undecoded, the code its reason starts with."""
    with sqlite3.connect(tmp_path / "data" / "ferryman.db") as db:
        rows = db.execute("SELECT source_path, state, error_code, reason FROM items").fetchall()
    return {
        Path(path).name: (state, code or (why.split(":")[0] if why and ": " in why else None))
        for path, state, code, why in rows
    }


def _peak_mib(tmp_path: Path) -> float:
    return int((tmp_path / "peak").read_text()) / 1024


def test_an_mp4_declaring_88_million_samples_ends_alone_and_the_engine_stays_small(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sample_count_bomb(folder / "bomb.mp4")
    photos = [make_photo(folder / f"p{n}.jpg", n) for n in range(3)]
    clip = make_video(folder / "clip.mp4", 3, seconds=0.4)
    env = _env(tmp_path)
    _add(env, folder)
    run = _cli(env, "run", "--until-idle")
    assert run.wait(300) in (0, 1), run.stderr.read() if run.stderr else ""

    items = _items(tmp_path)
    assert items.pop("bomb.mp4") == ("delivered", "media.declares_too_much")
    assert set(items) == {p.name for p in [*photos, clip]}
    assert {state for state, _ in items.values()} == {"delivered"}, items
    assert _peak_mib(tmp_path) < ENGINE_PEAK_MIB


def test_thirty_such_tracks_hold_no_queue_and_sigterm_stops_the_engine_in_its_grace(
    tmp_path: Path,
) -> None:
    bomb = sample_count_bomb(tmp_path / "tracks.mp4", tracks=30)
    env = _env(tmp_path)
    _add(env, bomb)
    run = _cli(env, "run")
    try:
        eventually_sync(lambda: (tmp_path / "data" / "ferryman.db").exists(), "the store")
        _add(env, make_photo(tmp_path / "behind.jpg", 5))  # a job added after it
        eventually_sync(
            lambda: _items(tmp_path).get("behind.jpg", ("", None))[0] == "delivered",
            "the photo job behind the 30-track MP4 delivered",
            within=45,  # the wait; before, the MP4 alone took ~2 minutes here
        )
        assert _items(tmp_path)["tracks.mp4"] == ("delivered", "media.declares_too_much")
        asked = time.monotonic()
        run.send_signal(signal.SIGTERM)
        assert run.wait(GRACE) == 0
        assert time.monotonic() - asked < GRACE
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    assert _peak_mib(tmp_path) < ENGINE_PEAK_MIB


def test_a_picture_over_the_decode_memory_ends_alone_and_the_engine_stays_small(
    tmp_path: Path,
) -> None:
    """A 6,000 x 6,000 PNG (108 MB decoded, ~300 MB to fit as a photo) under a decode
    cap of 128 MiB: it ends ``media.decode_memory`` in its worker, the photos beside it
    go, and the engine never held its pixels."""
    folder = tmp_path / "in"
    folder.mkdir()
    flat_png(folder / "big.png", 6000)
    photos = [make_photo(folder / f"p{n}.jpg", n) for n in range(3)]
    env = _env(tmp_path, FERRYMAN_MEDIA__DECODE_MEMORY="128MiB")
    _add(env, folder)
    run = _cli(env, "run", "--until-idle")
    assert run.wait(300) in (0, 1), run.stderr.read() if run.stderr else ""

    items = _items(tmp_path)
    assert items.pop("big.png") == ("delivered", "media.decode_memory")
    assert set(items) == {p.name for p in photos}
    assert {state for state, _ in items.values()} == {"delivered"}, items
    assert _peak_mib(tmp_path) < ENGINE_PEAK_MIB
