"""Everyday commands answer the question asked (issue 58, item 4): `status` shows the
newest jobs, the ones named or of a state, and counts the rest; `remove` takes several
jobs or every one of a state; a mistyped path's next step is `remove`, not `--force`;
`config init` writes every setting (tests/unit/test_config.py checks its contents)."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "200",
}


class _AnyText(str):
    """Equal to any text: a message whose words are not what the test is about."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()


def cli(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=ENV)


def _jobs(data: Path, *args: str) -> list[dict[str, object]]:
    shown = cli(data, "status", "--json", *args)
    assert shown.exit_code == 0, shown.output
    jobs: list[dict[str, object]] = json.loads(shown.stdout)["jobs"]
    return jobs


def _add_photos(tmp_path: Path, data: Path, n: int) -> None:
    photos = [str(make_photo(tmp_path / f"p{i:02}.jpg", i)) for i in range(n)]
    added = cli(data, "add", *photos)  # a job each, numbered in the order given
    assert added.exit_code == 0, added.output


def _add_missing(tmp_path: Path, data: Path, name: str) -> Result:
    return cli(data, "add", str(tmp_path / name))


def test_status_shows_the_newest_jobs_and_counts_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_missing(tmp_path, data, "typo-1.jpg")  # job 1, failed: an old failure
    _add_photos(tmp_path, data, 22)  # jobs 2-23, queued
    table = cli(data, "status")
    assert table.exit_code == 0, table.output
    shown = [int(line.split()[1]) for line in table.stdout.splitlines() if line[:2] == "│ "]
    assert shown == list(range(4, 24)), table.stdout  # the 20 newest, oldest first
    assert "3 older jobs not shown" in table.stdout
    assert "typo-1" not in table.stdout, "an old failure is told only with its job shown"
    every = cli(data, "status", "--limit", "0")
    assert "typo-1" in every.stdout and "source.not_found" in every.stdout
    assert len(_jobs(data)) == 23, "--json lists every job unless --limit says otherwise"
    assert [j["id"] for j in _jobs(data, "--limit", "2")] == [22, 23]


def test_status_of_jobs_named_or_of_a_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_photos(tmp_path, data, 3)  # jobs 1-3, queued
    _add_missing(tmp_path, data, "typo.jpg")  # job 4, failed
    assert [j["id"] for j in _jobs(data, "3", "1")] == [3, 1]
    assert [j["id"] for j in _jobs(data, "--state", "failed")] == [4]
    assert [j["id"] for j in _jobs(data, "--state", "unended")] == [1, 2, 3]
    one = cli(data, "status", "4")
    assert "typo" in one.stdout and "source.not_found" in one.stdout
    assert "job 2" not in one.stdout and "│ 2 " not in one.stdout
    missing = cli(data, "status", "2", "9")
    assert missing.exit_code == 1, missing.output
    assert "no job 9" in missing.stderr and "│ 2 " in missing.stdout
    wrong = cli(data, "status", "--state", "finished")
    assert wrong.exit_code == 2 and "no job state" in wrong.stderr
    none = cli(data, "status", "--state", "cancelled")
    assert none.exit_code == 0 and "no job is cancelled" in none.stdout


def test_status_takes_the_old_word_expanding_for_reading(tmp_path: Path) -> None:
    """``reading`` was ``expanding`` in 0.1.0: the old word still picks the jobs being
    read (until 0.2), and the table and --json say the new one."""
    data = tmp_path / "data"
    _add_photos(tmp_path, data, 2)  # jobs 1-2, queued
    with closing(sqlite3.connect(data / "ferryman.db")) as db, db:  # a reader holds job 2
        db.execute(
            "UPDATE jobs SET state = 'reading', owner = 'w', lease_until = 1e12 WHERE id = 2"
        )
    for word in ("reading", "expanding", "Expanding"):
        assert [(j["id"], j["state"]) for j in _jobs(data, "--state", word)] == [(2, "reading")]
    assert [j["id"] for j in _jobs(data, "--state", "unended")] == [1, 2]
    table = cli(data, "status", "--state", "expanding")
    assert table.exit_code == 0 and "reading" in table.stdout and "expanding" not in table.stdout


def test_remove_takes_several_jobs_and_every_job_of_a_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        _add_missing(tmp_path, data, name)  # jobs 1-3, failed
    _add_photos(tmp_path, data, 1)  # job 4, queued: not ended, so never removed
    both = cli(data, "remove", "1", "4")
    assert both.exit_code == 1, both.output  # job 4 refused, job 1 gone all the same
    assert "job 1 (a.jpg) removed" in both.stdout
    assert "job.not_ended" in both.stderr
    assert [j["id"] for j in _jobs(data)] == [2, 3, 4]
    failed = cli(data, "remove", "--failed")
    assert failed.exit_code == 0, failed.output
    assert "job 2 (b.jpg) removed" in failed.stdout and "job 3 (c.jpg) removed" in failed.stdout
    assert [j["id"] for j in _jobs(data)] == [4]
    again = cli(data, "remove", "--failed", "--done")
    assert again.exit_code == 0 and "no done or failed job to remove" in again.stdout
    assert cli(data, "remove").exit_code == 2


def test_a_mistyped_path_says_how_to_forget_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = _add_missing(tmp_path, data, "IMG_0001.jgp")
    assert added.exit_code == 1
    told = cli(data, "status", "1").stdout
    assert "`ferryman remove 1`" in told, told
    assert "--force" not in told


def test_a_job_in_a_retrys_pause_with_no_engine_says_it_waits_for_a_run(tmp_path: Path) -> None:
    """Ctrl-C during a download's pause between tries leaves the job queued with its
    code: with no engine running, nothing retries it, so `status` says the next run
    does (it read "retried automatically" alone); a wait for disk room is left as is."""
    import sqlite3

    data = tmp_path / "data"
    assert cli(data, "add", "http://127.0.0.1:9/x.zip", "http://127.0.0.1:9/y.zip").exit_code == 0
    with sqlite3.connect(data / "ferryman.db") as db:
        db.execute("UPDATE jobs SET wait_reason = 'source.io' WHERE id = 1")
        db.execute("UPDATE jobs SET wait_reason = 'space.low' WHERE id = 2")
    paused, room = _jobs(data)
    assert (paused["waiting"], paused["idle"]) == ("source.io", True)
    assert (room["waiting"], room["idle"]) == ("space.low", False)
    assert "waits for the next `ferryman run`" in cli(data, "status", "1").stdout


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_input_is_refused_not_read_as_this_folder(tmp_path: Path, empty: str) -> None:
    """`ferryman add "$FILE"` with FILE unset gave `''`, which became a job of the whole
    current folder; it is refused, and nothing else given with it is added."""
    data = tmp_path / "data"
    photo = make_photo(tmp_path / "a.jpg", 1)
    refused = cli(data, "add", str(photo), empty)
    assert refused.exit_code == 1, refused.output
    assert "error source.invalid: an empty input names nothing" in refused.output
    assert _jobs(data) == []


def test_a_watch_of_an_empty_source_is_refused(tmp_path: Path) -> None:
    """`ferryman watch add "$DIR"` with DIR unset watched the current folder."""
    data = tmp_path / "data"
    refused = cli(data, "watch", "add", "")
    assert refused.exit_code == 1, refused.output
    assert "error source.invalid: an empty source names nothing" in refused.output
    assert json.loads(cli(data, "watch", "list", "--json").stdout) == {"watches": []}


def test_json_is_kept_by_the_commands_that_change_a_job_and_by_their_errors(
    tmp_path: Path,
) -> None:
    """A script that said --json gets JSON from pause, resume, cancel, retry and remove,
    and an error as one object with its code (it got English before, whatever it said)."""
    data = tmp_path / "data"
    _add_photos(tmp_path, data, 1)
    for command, state in (("pause", "paused"), ("resume", "resumed"), ("cancel", "cancelled")):
        done = cli(data, "--json", command, "1")
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout) == {"job": 1, "state": state}
    again = cli(data, "retry", "1", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"job": 1, "state": "queued", "running": []}
    refused = cli(data, "--json", "retry", "1")  # queued again: not ended
    assert refused.exit_code == 1 and refused.stdout == ""
    error = json.loads(refused.stderr)["error"]
    assert error["code"] == "job.not_ended" and error["job"] == 1
    assert "ferryman cancel 1" in error["next"]
    removed = cli(data, "--json", "remove", "1", "7")
    assert removed.exit_code == 1
    assert json.loads(removed.stdout) == {
        "removed": [],
        "refused": [
            {"job": 1, "error": {"code": "job.not_ended", "message": ANY_TEXT}},
            {"job": 7, "error": {"code": "job.not_found", "message": "there is no job 7"}},
        ],
    }
    plain = cli(data, "retry", "1")
    assert plain.stderr.startswith("error job.not_ended: ")


def test_json_from_config_path_web_token_and_watch_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    where = cli(data, "--json", "config", "path")
    assert where.exit_code == 0, where.output
    said = json.loads(where.stdout)
    assert said["exists"] is False and said["chosen_by"] == "default"
    made = json.loads(cli(data, "web", "token", "--json").stdout)
    assert made["hash"].startswith("sha256:") and len(made["token"]) >= 32
    assert json.loads(cli(data, "watch", "check", "--json").stdout) == {"watches": []}
    (tmp_path / "roll").mkdir()
    photo = make_photo(tmp_path / "roll" / "IMG_0001.jpg", 1)
    os.utime(photo, (photo.stat().st_atime - 3600, photo.stat().st_mtime - 3600))  # settled
    added = cli(data, "watch", "add", str(tmp_path / "roll"), "--to", "library:")
    assert added.exit_code == 0, added.output
    looked = json.loads(cli(data, "watch", "check", "--json").stdout)["watches"]
    assert [(w["watch"], w["listed"], w["made"]) for w in looked] == [(1, 1, [])]
    assert [s["title"] for s in looked[0]["skipped"]] == ["IMG_0001.jpg"]  # there before


def test_watch_check_names_a_file_still_being_written_and_when_it_looks_again(
    tmp_path: Path,
) -> None:
    """A photo copied in a moment ago is not taken yet (it may still be growing): the
    check says so and when it looks again, never a bare "0 new" that reads as missed."""
    data = tmp_path / "data"
    roll = tmp_path / "roll"
    roll.mkdir()
    added = cli(data, "watch", "add", str(roll), "--to", "library:", "--since", "all")
    assert added.exit_code == 0, added.output
    make_photo(roll / "IMG_0002.jpg", 2)  # its mtime now: within watch.settle_seconds
    plain = cli(data, "watch", "check")
    assert plain.exit_code == 0, plain.output
    assert "0 new → no job; 1 still being written," in plain.stdout, plain.stdout
    assert "  still being written: IMG_0002.jpg (looked at again 20" in plain.stdout
    looked = json.loads(cli(data, "watch", "check", "--json").stdout)["watches"][0]
    assert [h["title"] for h in looked["held"]] == ["IMG_0002.jpg"]
    mtime = (roll / "IMG_0002.jpg").stat().st_mtime
    assert looked["held"][0]["ready_at"] > mtime
    assert looked["made"] == []
