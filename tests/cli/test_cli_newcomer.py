"""What a newcomer tripped over (issue 83): `doctor` failing a working install, log
records in a person's terminal, `add --run --json` printing another job's events."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from ferryman.samples import make_photo
from tests.support import forked


def test_doctor_exits_0_without_optional_tools_and_says_how_to_get_them(
    tmp_path: Path,
) -> None:
    """No lrzip or lzop on the PATH (as on most machines): `.lrz`/`.lzo` are optional
    rows, named with how to get the program, and the install works: exit 0."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = os.environ | {"PATH": str(empty)}
    command = ["--data-dir", str(tmp_path / "d"), "doctor"]  # forked: PATH is read at its use
    done = forked.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "optional, not here: lrzip" in done.stdout
    assert "apt install lzop" in done.stdout
    machine = forked.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert machine.returncode == 0, machine.stderr
    data = json.loads(machine.stdout)
    assert {t["program"] for t in data["optional_missing"]} == {"lrzip", "lzop"}
    lrz = next(row for row in data["formats"] if row["program"] == "lrzip")
    assert lrz["optional"] and not lrz["available"] and "install lrzip" in lrz["get"]


_LOGS = """
import logging, sys
from ferryman.frontdoors.cli.args import VERBOSE, apply_output
apply_output({VERBOSE: int(sys.argv[1])})
logging.getLogger("ferryman.engine.plumbing.leases").warning("lost the lease on fetch 7")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("ferryman.engine.runner").exception("a bug's own words")
print("done", file=sys.stderr, flush=True)
"""


def _terminal_says(verbose: int) -> str:
    """What reaches a terminal (a pty on stderr) from a warning and a bug's traceback."""
    reader, writer = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-c", _LOGS, str(verbose)], stderr=writer, stdout=subprocess.DEVNULL
    ) as child:
        os.close(writer)
        said = b""
        while True:
            try:
                chunk = os.read(reader, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            said += chunk
        child.wait(timeout=60)
    os.close(reader)
    return said.decode(errors="replace")


def test_no_log_record_reaches_a_terminal_unless_asked() -> None:
    """`WARNING ferryman.engine.plumbing.leases: lost the lease on fetch 7` was printed
    as the chat demo started: a terminal gets log records under -v, and a bug's
    traceback (which a person can report); a log that is no terminal gets them all."""
    plain = _terminal_says(0)
    assert "done" in plain
    assert "lost the lease" not in plain and "WARNING" not in plain
    assert "a bug's own words" in plain and "ZeroDivisionError" in plain
    assert "WARNING ferryman.engine.plumbing.leases: lost the lease on fetch 7" in (
        _terminal_says(1)
    )
    piped = subprocess.run(
        [sys.executable, "-c", _LOGS, "0"], capture_output=True, text=True, timeout=60
    )
    assert "lost the lease on fetch 7" in piped.stderr  # a journal, a log file keep it


def test_add_run_json_prints_only_its_own_jobs_events(tmp_path: Path) -> None:
    """Another job waits in the queue: the same run may take it, but `add --run
    --json` prints the events of its own job alone."""
    data = ["--data-dir", str(tmp_path / "data")]
    env = os.environ | {"FERRYMAN_SPACE_FLOOR": "0", "FERRYMAN_POLL_SECONDS": "0.05"}
    other = tmp_path / "other"
    for n in range(3):
        make_photo(other / f"o{n}.jpg", n)
    queued = forked.run([*data, "add", str(other)], capture_output=True, text=True, env=env)
    assert queued.returncode == 0, queued.stderr
    mine = tmp_path / "mine"
    make_photo(mine / "m.jpg", 9)
    done = forked.run(
        [*data, "add", "--run", "--json", str(mine)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    own = lines[0]["job"]["id"]  # the added line comes first
    events = [line for line in lines if "event" in line and line["event"] != "run_summary"]
    assert events, lines
    assert {e["job"] for e in events if e.get("job") is not None} == {own}, events


def test_a_misspelt_key_in_the_settings_file_gets_the_nearest_as_config_set_gives(
    tmp_path: Path,
) -> None:
    """Pydantic's "Extra inputs are not permitted" said nothing of what was meant."""
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    settings = tmp_path / "config.toml"
    settings.write_text('space_flor = "1GB"\n[network]\nwifi_onyl = true\n')
    done = CliRunner().invoke(
        app, ["--config", str(settings), "--data-dir", str(tmp_path / "d"), "status"]
    )
    assert done.exit_code != 0
    assert "Extra inputs are not permitted" not in done.stderr
    assert "no setting 'space_flor'; did you mean space_floor?" in done.stderr, done.stderr
    assert "no setting 'network.wifi_onyl'; did you mean network.wifi_only?" in done.stderr


def test_whoami_before_any_login_says_to_log_in_not_to_retry_a_job(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    env = {"FERRYMAN_TELEGRAM__API_ID": "12345", "FERRYMAN_TELEGRAM__API_HASH": "0" * 32}
    done = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "d"), "telegram", "whoami"], env=env
    )
    assert done.exit_code != 0 and "telegram.not_logged_in" in done.stderr
    assert "retry" not in done.stderr and "`ferryman telegram login`" in done.stderr


def test_a_watchs_then_is_shown_and_check_says_what_it_deleted(tmp_path: Path) -> None:
    """`watch add` and `watch list` did not show `--then`, and `watch check` did not
    say which files it deleted once their job had delivered them."""
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    camera = tmp_path / "Camera"
    photo = make_photo(camera / "IMG_1.jpg", 1)
    os.utime(photo, (1e9, 1e9))  # written long ago: settled, listed at the first look
    env = {"FERRYMAN_CONFIG": None, "FERRYMAN_SPACE_FLOOR": "0", "COLUMNS": "250"}

    def cli(*words: str) -> str:
        done = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "d"), *words], env=env)
        assert done.exit_code == 0, done.output
        return done.stdout

    added = cli("watch", "add", str(camera), "--since", "all", "--then", "delete")
    assert "then delete each delivered file" in added
    assert "delete each delivered file" in cli("watch", "list")
    assert json.loads(cli("watch", "list", "--json"))["watches"][0]["then"] == "delete"
    assert "job " in cli("watch", "check", "1")
    cli("run", "--until-idle")
    told = cli("watch", "check", "1")
    assert f"deleted {photo}, its job having delivered it" in told, told
    assert not photo.exists()
    assert "listed" in cli("watch", "check", "1", "--json")


def test_config_set_of_a_key_read_at_start_says_a_restart_is_needed(tmp_path: Path) -> None:
    """A running `ferryman web` ignores `config set web.tokens` until restarted, though
    a runtime key reaches a running engine: the command says which it is."""
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    env = {"FERRYMAN_CONFIG": str(tmp_path / "config.toml")}
    where = ["--data-dir", str(tmp_path / "d"), "config", "set"]
    token = "sha256:" + "0" * 64
    done = CliRunner().invoke(app, [*where, "web.tokens", token], env=env)
    assert done.exit_code == 0, done.output
    assert "takes it once restarted" in done.stderr
    runtime = CliRunner().invoke(app, [*where, "space_floor", "2GB"], env=env)
    assert runtime.exit_code == 0 and "restarted" not in runtime.stderr


def test_a_silent_videos_audio_is_refused_in_the_persons_words(tmp_path: Path) -> None:
    """`add --audio mp3` of a silent video said the work area's copy's name (a temporary
    file); the refusal names the video as the person named it."""
    from ferryman.errors import FerrymanError
    from ferryman.samples.media import make_video
    from ferryman.sources.sound import make_sound

    copy = make_video(tmp_path / "tmpk3x9_staged.mkv", 1, acodec=None)
    try:
        make_sound(str(copy), str(tmp_path / "out.mp3"), "mp3", "holiday", None, lambda _: None)
        raise AssertionError("a silent video made a sound")
    except FerrymanError as exc:
        assert exc.code == "media.no_audio"
        assert exc.message.startswith("holiday: ") and "tmpk3x9" not in exc.message
