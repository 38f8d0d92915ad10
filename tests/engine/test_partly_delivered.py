"""A job that left files in quarantine says so wherever a person looks: its state and
code in `ferryman status` (table and --json), the API's job view and the end notice,
with how many were kept back and what to do. Real zips, the engine run by the CLI."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from ferryman.engine.ops.job_view import job_view
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo
from ferryman.sources.builtin import default_sources
from ferryman.store import Store
from tests.archive.test_archive_reader import flip_byte_in_entry

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "200",
}
# An MP4 that is not one: ftyp, then noise. It cannot be decoded: quarantined.
BROKEN_VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12


def cli(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=ENV)


def archive(tmp_path: Path, *, corrupt_entry: bool) -> Path:
    """Two photos and a broken video; with ``corrupt_entry`` also an entry whose bytes
    were damaged inside the zip (it fails to read, it is not quarantined)."""
    path = tmp_path / "trip.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for seed in (1, 2):
            zf.write(make_photo(tmp_path / f"p{seed}.jpg", seed), f"p{seed}.jpg")
        zf.writestr("clip.mp4", BROKEN_VIDEO)
        if corrupt_entry:
            zf.write(make_photo(tmp_path / "p3.jpg", 3), "p3.jpg")
    if corrupt_entry:
        flip_byte_in_entry(path, "p3.jpg", 900)
    return path


def run(tmp_path: Path, *, corrupt_entry: bool) -> tuple[Path, dict[str, Any]]:
    data = tmp_path / "data"
    ran = cli(
        data,
        "add",
        "--run",
        "--to",
        "link:",  # a library would keep the broken video as it is: a link quarantines it
        str(archive(tmp_path, corrupt_entry=corrupt_entry)),
    )
    assert ran.exit_code == 1, ran.output  # delivered only part
    status = json.loads(cli(data, "status", "--json").stdout)["jobs"][0]
    return data, status


def test_quarantined_files_end_the_job_done_with_partly_delivered(tmp_path: Path) -> None:
    data, status = run(tmp_path, corrupt_entry=False)
    assert status["state"] == "done"
    counts = status["counts"]
    assert (counts["delivered"], counts["quarantined"], counts["failed"]) == (2, 1, 0)
    error = status["error"]
    assert error["code"] == "job.partly_delivered"
    assert error["message"].startswith("1 file of 3 not delivered, kept in quarantine")
    assert "media.unreadable" in error["message"]
    assert error["next"].startswith("`ferryman report 1` lists the files left out")

    table = cli(data, "status")
    assert "done job.partly_delivered" in table.stdout, table.stdout
    assert "next: `ferryman report 1` lists" in table.stdout

    async def view() -> dict[str, Any]:
        store = await Store.open(f"sqlite+aiosqlite:///{data / 'ferryman.db'}")
        try:
            return job_view(await store.get_job(1), default_sources())
        finally:
            await store.close()

    api = asyncio.run(view())
    assert api["status"] == "done"
    assert api["counts"] == {
        "total": 3,
        "delivered": 2,
        "failed": 0,
        "quarantined": 1,
        "skipped": 0,
    }
    api_error = api["error"]
    assert isinstance(api_error, dict) and api_error["code"] == "job.partly_delivered"


def test_a_failed_entry_and_a_quarantined_file_are_both_counted(tmp_path: Path) -> None:
    _, status = run(tmp_path, corrupt_entry=True)
    counts = status["counts"]
    assert (counts["delivered"], counts["quarantined"], counts["failed"]) == (2, 1, 1)
    assert status["state"] == "done"
    assert status["error"]["code"] == "archive.entry_corrupt"
    assert status["error"]["message"].startswith("1 failed, 1 quarantined, 2 delivered")
