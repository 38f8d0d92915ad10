"""Kill the real `ferryman run` process and check nothing is lost or delivered twice."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ferryman.samples import make_photo_set, make_tar, make_video, make_zip

from .engine_helpers import leftovers, library_files, sha256


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {
        "FERRYMAN_DATA_DIR": str(data),
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_SPACE_FLOOR": "0",
    }
    return env | extra


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ferryman", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _add(paths: list[Path], env: dict[str, str]) -> None:
    proc = _cli("add", *map(str, paths), env=env)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""


def _inputs(tmp_path: Path) -> tuple[list[Path], set[str]]:
    """Four archives and a folder holding 2,015 distinct media entries in all.

    Enough work that a run killed every 0.5-1.3 s is killed 20+ times on a fast machine.
    """
    photos = make_photo_set(tmp_path / "photos", 2000, size=(96, 72))
    videos = [make_video(tmp_path / "videos" / f"v{n}.mp4", n, seconds=0.4) for n in range(15)]
    inputs = [
        make_zip(tmp_path / "a.zip", [(f"x/{p.name}", p) for p in photos[:600]]),
        make_zip(tmp_path / "b.zip", [(p.name, p) for p in photos[600:1100]], compress=False),
        make_tar(
            tmp_path / "c.tar.gz",
            [(f"d/e/{p.name}", p) for p in photos[1100:1700]],
            compression="gz",
        ),
        make_tar(tmp_path / "d.tar", [(p.name, p) for p in photos[1700:]]),
    ]
    folder = tmp_path / "loose"
    folder.mkdir()
    for p in videos:
        (folder / p.name).write_bytes(p.read_bytes())
    return [*inputs, folder], {sha256(p) for p in photos + videos}


def _busy_leases(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return sum(
            conn.execute(f"SELECT count(*) FROM {table} WHERE owner IS NOT NULL").fetchone()[0]
            for table in ("jobs", "albums", "items")
        )


def _all_terminal(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        states = {row[0] for row in conn.execute("SELECT state FROM jobs")}
    return states <= {"done", "failed", "cancelled"}


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="1")
    inputs, expected = _inputs(tmp_path)
    assert len(expected) == 2015
    _add(inputs, env)
    rng = random.Random(20261120)
    kills = 0
    for _ in range(200):
        proc = _cli("run", "--until-idle", env=env)
        time.sleep(rng.uniform(0.5, 1.3))
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
            break  # it finished before the kill came
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        if kills >= 25:
            break
    assert kills >= 20, f"only {kills} kills landed while work remained; make the input larger"
    final = _cli("run", "--until-idle", env=env)
    assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""

    files = library_files(data / "library")
    delivered = [f["disk_sha256"] for f in files]
    assert sorted(delivered) == sorted(expected)  # every entry, exactly once
    assert not list((data / "library").rglob(".*partial"))
    assert leftovers(data / "work") == []
    assert _all_terminal(data / "ferryman.db")


def test_sigterm_releases_leases_and_restart_continues_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="3600")  # a kept lease would block for an hour
    photos = make_photo_set(tmp_path / "p", 150, size=(96, 72))
    _add([make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])], env)
    proc = _cli("run", "--until-idle", env=env)
    deadline = time.monotonic() + 60
    while not list((data / "library").rglob("0002")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert _busy_leases(data / "ferryman.db") == 0
    assert not _all_terminal(data / "ferryman.db")
    restart = _cli("run", "--until-idle", env=env)
    assert restart.wait(60) == 0, restart.stderr.read() if restart.stderr else ""
    delivered = sorted(f["disk_sha256"] for f in library_files(data / "library"))
    assert delivered == sorted(sha256(p) for p in photos)


def test_second_run_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    first = _cli("run", env=env)
    try:
        time.sleep(1.5)
        assert first.poll() is None
        second = _cli("run", "--until-idle", env=env)
        assert second.wait(30) == 2
        assert second.stderr is not None
        assert b"engine.locked" in second.stderr.read()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
