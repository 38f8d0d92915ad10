"""A damaged SQLite store says so (``store.corrupt``, one line and a next step, no
traceback) through the CLI, for every kind of damage; a whole store, its WAL included,
opens as before."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ferryman.errors import ERRORS
from ferryman.store import sqlite_file
from ferryman.store.startup.sqlite3_schema import SCHEMA_VERSION
from ferryman.store.startup.sqlite3_store import open_sqlite3
from tests.support import forked

ENV = {k: v for k, v in os.environ.items() if k != "FERRYMAN_CONFIG"} | {
    "FERRYMAN_SPACE_FLOOR": "0",
    "COLUMNS": "200",
}


def ferryman(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return forked.run(
        ["--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )


def _store_with_a_job(data: Path, source: Path) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    done = ferryman(data, "add", str(source))
    assert done.returncode == 0, done.stderr
    return data / "ferryman.db"


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(8192))


def _truncated(db: Path) -> None:
    conn = sqlite3.connect(db)  # pages enough that cutting them off shows
    with conn:
        conn.execute("CREATE TABLE padding (x TEXT)")
        conn.executemany("INSERT INTO padding VALUES (?)", [("x" * 900,) for _ in range(200)])
    conn.close()  # checkpointed: the WAL is gone
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.truncate(size // 2)


def _zero_bytes(db: Path) -> None:
    db.write_bytes(b"")


def _garbage_wal(db: Path) -> None:
    Path(f"{db}-wal").write_bytes(os.urandom(4096))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": _garbage,
    "truncated": _truncated,
    "zero bytes": _zero_bytes,
    "garbage wal": _garbage_wal,
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_store_says_so_through_the_cli(kind: str, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x")
    data = tmp_path / "data"
    db = _store_with_a_job(data, source)
    DAMAGE[kind](db)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    for args in (("status",), ("add", str(source), "--force")):
        done = ferryman(data, *args)
        told = done.stdout + done.stderr
        assert done.returncode != 0, told
        assert "Traceback" not in told, told
        errors = [line for line in told.splitlines() if line.startswith("error ")]
        assert len(errors) == 1 and errors[0].startswith("error store.corrupt:"), told
        assert str(db) in errors[0] and "mv " in errors[0], told
        assert "new, empty store" in told, told  # the next step
    # Nothing was written over: the damage is there to be looked at.
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before


def test_moving_the_damaged_store_aside_starts_afresh(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x")
    data = tmp_path / "data"
    db = _store_with_a_job(data, source)
    _zero_bytes(db)
    db.rename(f"{db}.damaged")  # what the message says to do
    assert ferryman(data, "add", str(source)).returncode == 0
    assert "in" in ferryman(data, "status").stdout


def test_a_store_from_a_newer_ferryman_says_so(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x")
    data = tmp_path / "data"
    db = _store_with_a_job(data, source)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.close()
    done = ferryman(data, "status")
    told = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in told, told
    errors = [line for line in told.splitlines() if line.startswith("error ")]
    assert len(errors) == 1 and errors[0].startswith("error store.migration_failed:"), told
    assert "newer ferryman" in errors[0], told


def test_a_whole_store_with_changes_in_its_wal_opens_with_them(tmp_path: Path) -> None:
    """A crash leaves committed changes in the WAL: they are read, not called damage."""
    live = tmp_path / "live"
    live.mkdir()
    db = live / "ferryman.db"
    store = open_sqlite3(f"sqlite:///{db}", create=True)
    assert store is not None
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(
        "UPDATE schema_version SET applied_at = 1 WHERE version = (SELECT max(version)"
        " FROM schema_version)"
    )
    crashed = tmp_path / "data"
    crashed.mkdir()
    for name in ("ferryman.db", "ferryman.db-wal"):  # as a power cut leaves them
        shutil.copy(live / name, crashed / name)
    conn.close()
    assert Path(f"{crashed / 'ferryman.db'}-wal").stat().st_size > 32
    assert sqlite_file.damage(crashed / "ferryman.db") is None
    source = tmp_path / "in.txt"
    source.write_text("x")
    done = ferryman(crashed, "add", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    listed = ferryman(crashed, "status", "--json")
    assert listed.returncode == 0 and '"in"' in listed.stdout, listed.stdout + listed.stderr


def test_a_new_store_is_never_seen_at_zero_bytes(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "ferryman.db"
    sqlite_file.make_whole(db)
    assert db.read_bytes().startswith(sqlite_file.HEADER)
    assert sqlite_file.damage(db) is None
    assert sorted(p.name for p in db.parent.iterdir()) == ["ferryman.db"]
    assert "store.corrupt" in ERRORS


def test_a_new_store_is_made_whole_where_hard_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # FAT, a phone's shared storage

    monkeypatch.setattr(sqlite_file.os, "link", refused)
    db = tmp_path / "ferryman.db"
    sqlite_file.make_whole(db)
    assert db.read_bytes().startswith(sqlite_file.HEADER) and sqlite_file.damage(db) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ferryman.db"]
    store = open_sqlite3(f"sqlite:///{db}", create=True)
    assert store is not None
    store.close()
