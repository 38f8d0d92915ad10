"""Next steps give the job's number wherever it is known, and inputs are named as people
type them (`http(s)://`, `dav(s)://`, `torbox:`, t.me links, files), never by the
sources' internal schemes (`tg`, `media`)."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from ferryman.engine.ops import report
from ferryman.errors import ERRORS, FerrymanError, next_step_for
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.terminal import fail, print_run_summary
from ferryman.model import Job, JobState
from ferryman.sources.builtin import default_sources

NEEDS_JOB = sorted(code for code, spec in ERRORS.items() if "JOB" in spec.next_step)
PLACEHOLDER = re.compile(r"\bJOB\b")


def _job(code: str, state: JobState) -> Job:
    return Job(
        id=42, source="file:///x.zip", name="x", dest="library:", state=state, priority=0,
        wait_reason=code if state is JobState.NEEDS_PASSWORD else None,
        error_code=code, error_message="what happened", cursor=0, read_done=False,
        created_at=0.0, finished_at=None,
    )  # fmt: skip


def test_the_registry_has_codes_whose_steps_name_a_job() -> None:
    assert {"archive.password_wrong", "job.already_ended", "job.not_ended"} <= set(NEEDS_JOB)


@pytest.mark.parametrize("code", NEEDS_JOB)
@pytest.mark.parametrize("state", [JobState.FAILED, JobState.NEEDS_PASSWORD])
def test_status_and_the_run_summary_give_the_number(code: str, state: JobState) -> None:
    job = _job(code, state)
    shown = report.status_of([job], {})["jobs"][0]
    assert not PLACEHOLDER.search(shown["error"]["next"]), shown
    summary = {
        "jobs": {"failed": 1},
        "items": {"delivered": 0, "failed": 0, "quarantined": 0, "skipped": 0, "pending": 0},
        "needs": [
            {"id": 42, "name": "x", "state": "failed", "code": code, "message": "m",
             "next": next_step_for(code, failed=True, job=42)},
        ],
    }  # fmt: skip
    out = StringIO()
    print_run_summary(Console(file=out, width=300), summary)
    assert not PLACEHOLDER.search(out.getvalue()), out.getvalue()


@pytest.mark.parametrize("code", NEEDS_JOB)
def test_an_error_about_a_named_job_gives_its_number(code: str) -> None:
    out = StringIO()
    fail(Console(file=out, width=300), FerrymanError(code, "m"), 42)
    said = out.getvalue()
    assert not PLACEHOLDER.search(said) and "42" in said, said


def test_the_cli_fills_in_the_number_it_was_given(tmp_path: Path) -> None:
    from ferryman.samples import make_photo

    env = {"FERRYMAN_CONFIG": None, "FERRYMAN_SPACE_FLOOR": "0", "COLUMNS": "300"}
    data = ["--data-dir", str(tmp_path / "data")]
    photo = make_photo(tmp_path / "a.jpg", 1)
    assert CliRunner().invoke(app, [*data, "add", str(photo)], env=env).exit_code == 0
    refused = CliRunner().invoke(app, [*data, "retry", "1"], env=env)  # queued, not ended
    assert refused.exit_code == 1  # refused
    assert "`ferryman cancel 1`" in refused.stderr and "JOB" not in refused.stderr


def test_unknown_inputs_are_answered_with_what_people_type(tmp_path: Path) -> None:
    readable = default_sources().readable()
    assert readable.startswith("local files, folders and archives"), readable
    for said in ("http(s)://", "dav(s)://", "torbox:", "t.me"):
        assert said in readable, readable
    for internal in ("tg", "media", "file:", "https,"):
        assert not re.search(rf"\b{re.escape(internal)}\b", readable), readable
    refused = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "d"), "add", "ftp://host/x.zip"],
        env={"FERRYMAN_CONFIG": None},
    )
    assert "source.unsupported" in refused.stderr
    assert "it reads local files" in refused.stderr and "tg," not in refused.stderr


def _add_to(tmp_path: Path, dest: str) -> Result:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"")
    return CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "d"), "add", "--to", dest, str(photo)],
        env={"FERRYMAN_CONFIG": None},
    )


def test_a_destination_without_its_colon_is_pointed_at_it(tmp_path: Path) -> None:
    refused = _add_to(tmp_path, "library")
    assert refused.exit_code == 2  # a bad --to value: usage, as the exit table says
    assert "destination 'library' is not known (did you mean library:?)" in refused.stderr


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("telegrm:@chan", "telegram:@chan"),
        ("libary:/x", "library:/x"),
        ("rclon:x:y", "rclone:x:y"),
        ("telegrm:@chan?as=documents", "telegram:@chan"),
    ],
)
def test_a_mistyped_destination_kind_is_pointed_at_the_one_meant(
    tmp_path: Path, typed: str, meant: str
) -> None:
    """`--to telegrm:@chan` got every form a destination takes, and no word of the one
    it was a letter away from; `config set` says "did you mean" for a key (one helper)."""
    refused = _add_to(tmp_path, typed)
    assert refused.exit_code == 2, refused.output
    base = typed.partition("?")[0]
    assert f"destination '{base}' is not known (did you mean {meant}?)" in refused.stderr


def test_a_destination_kind_near_none_is_not_guessed(tmp_path: Path) -> None:
    refused = _add_to(tmp_path, "zzz:q")
    assert refused.exit_code == 2 and "did you mean" not in refused.stderr, refused.stderr
