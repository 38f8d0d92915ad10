"""`ferryman user add|reset` as a person runs them: a password too short, missing or
piped in ends in a coded error and its next step (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.exit_codes import ExitCode

ENV = {"FERRYMAN_CONFIG": None, "FERRYMAN_PASSWORD": None, "COLUMNS": "200"}


def cli(data: Path, *args: str, stdin: str = "") -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), "user", *args], input=stdin, env=ENV)


def test_a_short_password_is_a_coded_usage_error(tmp_path: Path) -> None:
    said = cli(tmp_path, "add", "carl", "--password", "short")
    assert said.exception is None or isinstance(said.exception, SystemExit), said.exception
    assert said.exit_code == ExitCode.USAGE, said.output
    assert "error account.bad_password: the password is too short" in said.output
    assert "next: Give the password again" in said.output
    assert "carl" not in cli(tmp_path, "list").output


def test_no_password_on_stdin_is_said(tmp_path: Path) -> None:
    said = cli(tmp_path, "add", "carl", stdin="")
    assert said.exit_code == ExitCode.USAGE, said.output
    assert "account.bad_password: no password given" in said.output


def test_a_password_piped_in_is_taken(tmp_path: Path) -> None:
    added = cli(tmp_path, "add", "carl", stdin="long enough 1\n")
    assert added.exit_code == 0, added.output
    assert "added carl" in added.output
    assert "Warning" not in added.output  # no getpass fallback's echo warning
    listed = cli(tmp_path, "list").output
    assert listed.split()[:3] == ["carl", "user", "-"] and "(the server's)" in listed
    reset = cli(tmp_path, "reset", "carl", stdin="tiny\n")
    assert reset.exit_code == ExitCode.USAGE, reset.output
    assert "account.bad_password" in reset.output


def test_the_accounts_list_as_json(tmp_path: Path) -> None:
    assert cli(tmp_path, "add", "root", "--admin", "--password", "long enough 1").exit_code == 0
    listed = cli(tmp_path, "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == {
        "users": [
            {
                "name": "root",
                "admin": True,
                "telegram": False,
                "library": f"{tmp_path / 'library'} (the server's)",
            }
        ]
    }


def test_the_quarantine_lists_as_json(tmp_path: Path) -> None:
    kept = tmp_path / "quarantine" / "00001-trip"
    kept.mkdir(parents=True)
    (kept / "trip.zip").write_bytes(b"PK")
    (kept / "trip.zip.reason.txt").write_text("code: archive.truncated\nends early\n")
    runner = CliRunner()
    shown = runner.invoke(
        app, ["--data-dir", str(tmp_path), "quarantine", "list", "--json"], env=ENV
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == {
        "quarantine": [{"code": "archive.truncated", "path": str(kept / "trip.zip")}]
    }
