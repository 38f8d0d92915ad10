"""An input or a destination that needs something set up first (a debrid key, a Torbox
key, a Telegram login) is refused when it is added, nothing recorded, with a next step
that fits that state: set it up, then add it again. A magnet with no debrid key was
added and failed at its run (`debrid.none`); a t.me link with no login the same; and a
`--to telegram:` refused at add said `ferryman retry JOB` for a job that was never made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.net.rclone import rclone_binary
from ferryman.samples import make_photo

MAGNET = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Trip"
TELEGRAM_KEYS = {"FERRYMAN_TELEGRAM__API_ID": "12345", "FERRYMAN_TELEGRAM__API_HASH": "0" * 32}


def _env(tmp_path: Path, **more: str) -> dict[str, str | None]:
    keys = (
        "TORBOX__API_KEY",
        "DEBRID__SERVICE",
        "DEBRID__REALDEBRID__API_KEY",
        "DEBRID__ALLDEBRID__API_KEY",
        "DEBRID__PREMIUMIZE__API_KEY",
        "DEBRID__DEBRIDLINK__API_KEY",
        "TELEGRAM__API_ID",
        "TELEGRAM__API_HASH",
    )
    env: dict[str, str | None] = {f"FERRYMAN_{k}": None for k in keys}
    return env | {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "FERRYMAN_CONFIG": None,
        **more,
    }


def _add(tmp_path: Path, *words: str, **env: str) -> Result:
    data = ["--data-dir", str(tmp_path / "data")]
    return CliRunner().invoke(app, [*data, "add", *words], env=_env(tmp_path, **env))


def _jobs(tmp_path: Path) -> list[dict[str, Any]]:
    data = ["--data-dir", str(tmp_path / "data")]
    shown = CliRunner().invoke(app, [*data, "status", "--json"], env=_env(tmp_path))
    jobs: list[dict[str, Any]] = json.loads(shown.stdout)["jobs"]
    return jobs


def _refused(done: Result, code: str) -> str:
    """The refusal's next step, checked to fit a refusal: nothing to retry."""
    assert done.exit_code == 4, done.output  # the set-up, as the exit table says
    assert f"error {code}:" in done.stderr and "nothing was added" in done.stderr, done.stderr
    step = done.stderr.split("next: ", 1)[1]
    assert "add it again" in step and "retry" not in step, step
    return step


@pytest.mark.parametrize("given", [MAGNET, "Trip.torrent"], ids=["magnet", "torrent"])
def test_a_torrent_with_no_debrid_key_is_refused_when_added(tmp_path: Path, given: str) -> None:
    step = _refused(_add(tmp_path, given), "debrid.none")
    assert "ferryman config set debrid.realdebrid.api_key KEY" in step
    assert _jobs(tmp_path) == []
    done = _add(tmp_path, given, FERRYMAN_DEBRID__REALDEBRID__API_KEY="k")
    assert done.exit_code in (0, 1), done.output  # taken (a .torrent not there: failed)
    assert len(_jobs(tmp_path)) == 1


def test_a_debrid_service_chosen_without_its_key_is_named(tmp_path: Path) -> None:
    done = _add(tmp_path, MAGNET, FERRYMAN_DEBRID__SERVICE="alldebrid")
    step = _refused(done, "debrid.none")
    assert "debrid.alldebrid.api_key is not set" in done.stderr
    assert "ferryman config set debrid.alldebrid.api_key KEY" in step
    assert _jobs(tmp_path) == []


def test_a_torbox_item_with_no_key_is_refused_when_added(tmp_path: Path) -> None:
    step = _refused(_add(tmp_path, "torbox:torrent/5"), "torbox.auth")
    assert "ferryman config set torbox.api_key KEY" in step
    assert _jobs(tmp_path) == []
    assert _add(tmp_path, "torbox:torrent/5", FERRYMAN_TORBOX__API_KEY="k").exit_code == 0
    assert len(_jobs(tmp_path)) == 1


def test_a_telegram_link_with_no_login_is_refused_when_added(tmp_path: Path) -> None:
    done = _add(tmp_path, "https://t.me/c/1234567890/42", **TELEGRAM_KEYS)
    step = _refused(done, "telegram.not_logged_in")
    assert "ferryman telegram login" in step
    assert _jobs(tmp_path) == []
    machine = _add(tmp_path, "--json", "https://t.me/c/1234567890/42", **TELEGRAM_KEYS)
    said = json.loads(machine.stdout.splitlines()[0])
    assert said["job"] is None and "add it again" in said["error"]["next"], said


@pytest.mark.parametrize(
    ("dest", "named"),
    [
        ("telegram:@channel", "cannot send to telegram:@channel:"),
        ("link:telegram", "cannot keep link:telegram's files in Telegram"),
    ],
)
def test_a_telegram_destination_with_no_login_says_to_add_again_not_retry(
    tmp_path: Path, dest: str, named: str
) -> None:
    """`retry JOB` named a job that was never made; link:telegram's refusal named
    telegram:me, a destination the person never typed."""
    photo = make_photo(tmp_path / "p.jpg", 1)
    done = _add(tmp_path, str(photo), "--to", dest, **TELEGRAM_KEYS)
    _refused(done, "telegram.not_logged_in")
    assert named in done.stderr, done.stderr
    assert _jobs(tmp_path) == []


def test_add_json_says_an_input_failed_at_once_in_json_on_stderr_too(tmp_path: Path) -> None:
    """`add --json missing.zip` gave its job as JSON on stdout, then two lines of prose on
    stderr, where `--json` promises one `{"error": …}` line a script can read."""
    done = _add(tmp_path, "--json", str(tmp_path / "missing.zip"))
    assert done.exit_code == 1, done.output
    said = json.loads(done.stdout)
    assert said["job"]["state"] == "failed" and said["error"]["code"] == "source.not_found"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    error = json.loads(lines[0])["error"]
    assert (error["code"], error["job"]) == ("source.not_found", said["job"]["id"])
    assert f"ferryman remove {said['job']['id']}" in error["next"]


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("FERRYMAN_TORBOX_API_KEY", "FERRYMAN_TORBOX__API_KEY"),
        ("FERRYMAN_DEBRID_REALDEBRID_API_KEY", "FERRYMAN_DEBRID__REALDEBRID__API_KEY"),
    ],
)
def test_a_variable_with_one_underscore_for_two_is_named_not_ignored(
    tmp_path: Path, variable: str, meant: str
) -> None:
    """`FERRYMAN_TORBOX_API_KEY=…` (the usual spelling of such variables) was ignored
    without a word, the key left unset; a variable that is no setting still is."""
    data = ["--data-dir", str(tmp_path / "data")]
    done = CliRunner().invoke(app, [*data, "status"], env=_env(tmp_path, **{variable: "k"}))
    assert done.exit_code == 4, done.output
    assert "config.invalid" in done.stderr and f"did you mean {meant}" in done.stderr
    quiet = _env(tmp_path, FERRYMAN_TEST_SOMETHING="1", FERRYMAN_PASSWORD="x")
    assert CliRunner().invoke(app, [*data, "status"], env=quiet).exit_code == 0


@pytest.mark.parametrize(
    ("words", "code", "in_step"),
    [
        # `magnet:` alone was "not an input ferryman can read; it reads … magnet: links".
        (["magnet:"], "source.invalid", "in the form the message names"),
        # Its step blamed "a NUL byte in a path, a broken URI" for a missing `:path`.
        (["rclone:box"], "source.invalid", "in the form the message names"),
        # A kind it knows, misspelt: the step said "use a destination ferryman knows,
        # like library:/path or telegram:me", not the form the person was after.
        (["p.jpg", "--to", "rclone:box"], "sink.unknown", "rclone:REMOTE:path"),
        # The step listed fewer kinds than the message: no magnet:, no rclone:.
        (["ftp://host/x.zip"], "source.unsupported", "magnet:, rclone:REMOTE:path"),
    ],
)
def test_a_malformed_input_or_destination_gets_a_step_that_fits_it(
    tmp_path: Path, words: list[str], code: str, in_step: str
) -> None:
    done = _add(tmp_path, *words)
    assert done.exit_code in (1, 2), done.output
    assert f"error {code}:" in done.stderr, done.stderr
    assert in_step in done.stderr.split("next: ", 1)[1], done.stderr
    assert _jobs(tmp_path) == []


def _watches(tmp_path: Path) -> list[dict[str, Any]]:
    data = ["--data-dir", str(tmp_path / "data")]
    shown = CliRunner().invoke(app, [*data, "--json", "watch", "list"], env=_env(tmp_path))
    watches: list[dict[str, Any]] = json.loads(shown.stdout)["watches"]
    return watches


@pytest.mark.skipif(rclone_binary() is None, reason="rclone is not installed here")
@pytest.mark.parametrize(
    ("command", "words", "doing"),
    [
        ("add", ["p.jpg", "--to", "rclone:NOSUCH:Photos"], "send to rclone:NOSUCH:Photos"),
        ("add", ["rclone:NOSUCH:Trip/trip.zip"], "fetch rclone:NOSUCH:Trip/trip.zip"),
        ("watch", ["add", "rclone:NOSUCH:Camera", "--every", "5m"], "watch rclone:NOSUCH:Camera"),
        (
            "watch",
            ["add", "rclone:gdrive:Camera", "--to", "rclone:NOSUCH:x", "--every", "5m"],
            "send to rclone:NOSUCH:x",
        ),
    ],
    ids=["destination", "input", "watch", "watch-destination"],
)
def test_an_rclone_remote_the_conf_does_not_name_is_refused_when_added(
    tmp_path: Path, command: str, words: list[str], doing: str
) -> None:
    """`--to rclone:NOSUCH:path` (an input, a watch the same) was taken, and its job
    failed at its run with a step saying `retry JOB`; refused now, nothing recorded,
    the step naming the remotes the rclone.conf in use has."""
    photo = make_photo(tmp_path / "p.jpg", 1)
    words = [str(photo) if w == "p.jpg" else w for w in words]
    conf = tmp_path / "rclone.conf"
    conf.write_text("[gdrive]\ntype = local\n\n[nas]\ntype = local\n")
    data = ["--data-dir", str(tmp_path / "data")]
    env = _env(tmp_path, FERRYMAN_RCLONE__CONFIG=str(conf))
    done = CliRunner().invoke(app, [*data, command, *words], env=env, catch_exceptions=False)
    assert done.exit_code == 2, done.output  # a bad argument, as sink.unknown
    assert "error rclone.no_remote:" in done.stderr, done.stderr
    assert f"cannot {doing}: NOSUCH is not a remote of the rclone.conf {conf}" in done.stderr
    assert "(its remotes: gdrive, nas); nothing was added" in done.stderr
    step = done.stderr.split("next: ", 1)[1]
    assert "(gdrive, nas)" in step and "add it again" in step and "retry" not in step, step
    assert _jobs(tmp_path) == [] and _watches(tmp_path) == []
    fixed = [w.replace("NOSUCH", "nas") for w in words]
    taken = CliRunner().invoke(app, [*data, command, *fixed], env=env)
    assert taken.exit_code == 0, taken.output
    assert len(_jobs(tmp_path) if command == "add" else _watches(tmp_path)) == 1
