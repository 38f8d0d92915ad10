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
                "limits": {},  # none set: no limit
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


def test_an_administrator_sets_a_persons_limits_as_the_page_does(tmp_path: Path) -> None:
    """`user set` took --library alone: the limits (jobs at once, bytes a day, ended
    jobs kept) were the page's and the API's only. Each given one changes, the others
    stay; they are kept where the page's limit check reads them (``limits``)."""
    from ferryman.web.accounts.limits import LIMITS

    assert cli(tmp_path, "add", "ann", "--password", "a long password").exit_code == 0
    library = tmp_path / "ann-library"
    assert cli(tmp_path, "set", "ann", "--library", str(library)).exit_code == 0
    first = cli(tmp_path, "set", "ann", "--jobs", "2", "--bytes-day", "20GB")
    assert first.exit_code == 0, first.output
    assert "limits of ann: 20,000,000,000 bytes a day, 2 jobs at once" in first.output
    again = cli(tmp_path, "set", "ann", "--results-kept", "5", "--json")
    said = json.loads(again.stdout)
    assert said["limits"] == {"jobs": 2, "bytes_day": 20_000_000_000, "results_kept": 5}
    assert said["library"] == str(library.resolve())  # not taken away by a limit
    assert set(said["limits"]) <= set(LIMITS)
    listed = json.loads(cli(tmp_path, "list", "--json").stdout)["users"]
    assert listed[0]["limits"] == said["limits"]
    bad = cli(tmp_path, "set", "ann", "--bytes-day", "lots")
    assert bad.exit_code == ExitCode.USAGE and "--bytes-day 'lots'" in bad.output


def test_a_persons_rclone_conf_given_shown_refused_and_removed(tmp_path: Path) -> None:
    """`ferryman user rclone NAME FILE`: the administrator gives a person's rclone.conf
    as the page takes it (checked, kept owner-only, shown without its secrets)."""
    assert cli(tmp_path, "add", "ann", "--password", "long enough 1").exit_code == 0
    conf = tmp_path / "ann.conf"
    conf.write_text('[gd]\ntype = drive\ntoken = {"access_token":"SECRET"}\n')
    given = cli(tmp_path, "rclone", "ann", str(conf))
    assert given.exit_code == 0, given.output
    assert "rclone remotes of ann: gd (drive)" in given.output and "SECRET" not in given.output
    (kept,) = (tmp_path / "rclone" / "people").glob("*/rclone.conf")
    assert "SECRET" in kept.read_text() and kept.stat().st_mode & 0o077 == 0
    shown = cli(tmp_path, "--json", "rclone", "ann")
    assert json.loads(shown.stdout)["remotes"][0]["secret"] == ["token"], shown.output
    refused = cli(tmp_path, "rclone", "ann", "-", stdin="[disk]\ntype = local\n")
    assert refused.exit_code != 0, refused.output
    assert "rclone.conf_refused: [disk]: type local" in refused.output
    assert "next: A remote of that rclone.conf" in refused.output
    assert "gd" in kept.read_text()  # the refused one replaced nothing
    removed = cli(tmp_path, "rclone", "ann", "--remove")
    assert "no rclone.conf of their own" in removed.output and not kept.exists()
    assert cli(tmp_path, "rclone", "nobody").exit_code != 0
