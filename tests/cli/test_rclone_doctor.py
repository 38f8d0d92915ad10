"""``ferryman doctor`` names the rclone remotes it reaches: asked of a real ``rclone rcd``
over a config with a local remote, a WebDAV server rclone serves on loopback, and an
SFTP box whose port nothing listens on."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.config import load_settings
from ferryman.frontdoors.cli.doctor import rclone_remotes
from ferryman.net.rclone import rclone_binary
from ferryman.net.rclone_conf import KeptRclone
from tests.support import forked
from tests.support.rclone_serve import free_port, obscured, serve

BINARY = rclone_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="rclone is not installed here")


def test_doctor_lists_the_remotes_it_reaches_and_an_unreachable_one_fails_nothing(
    tmp_path: Path,
) -> None:
    assert BINARY is not None
    served = tmp_path / "served"
    served.mkdir()
    with serve(BINARY, "webdav", served, "dav") as dav:
        conf = tmp_path / "rclone.conf"
        dead = (
            f"[gone]\ntype = sftp\nhost = 127.0.0.1\nport = {free_port()}\nuser = ann\n"
            f"pass = {obscured(BINARY, 'x')}\n"
        )
        conf.write_text(f"[loc]\ntype = local\n\n{dav}{dead}")
        env = os.environ | {"FERRYMAN_RCLONE__CONFIG": str(conf)}
        done = forked.run(
            ["--data-dir", str(tmp_path / "d"), "doctor", "--json"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        words = forked.run(
            ["--data-dir", str(tmp_path / "d"), "doctor"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    found = json.loads(done.stdout)["rclone"]
    assert found["binary"] == BINARY and found["config"] == str(conf)
    by_name = {r["remote"]: r for r in found["remotes"]}
    assert set(by_name) == {"loc", "dav", "gone"}
    assert by_name["loc"]["ok"] and by_name["dav"]["ok"]
    assert not by_name["gone"]["ok"] and by_name["gone"]["why"]
    assert "  dav: reached" in words.stdout and "  gone: not reached:" in words.stdout
    # An optional remote out of reach is said; doctor's exit is what the rest makes it
    # (here: 0 with 7zz, as tests/cli/test_cli_archive.py finds it).
    assert done.returncode == (0 if find_7zz() is not None else 1), done.stderr


def test_doctor_lists_the_server_s_conf_given_on_the_page_as_its_runs_use_it(
    tmp_path: Path,
) -> None:
    """An administrator's rclone.conf given on the page is the one the server's runs use
    before ``rclone.config`` (and the one `add` checks a remote in); doctor listed
    ``rclone.config``'s remotes, which no run reached."""
    other = tmp_path / "other.conf"
    other.write_text("[elsewhere]\ntype = local\n")
    settings = load_settings(None, {"data_dir": tmp_path / "d", "rclone": {"config": other}})
    kept = KeptRclone(settings.data_dir).path
    kept.parent.mkdir(parents=True)
    kept.write_text("[photos]\ntype = local\n")
    found = rclone_remotes(settings)
    assert found["config"] == str(kept), found
    assert [r["remote"] for r in found["remotes"]] == ["photos"], found


def test_a_config_that_is_not_there_is_said_not_failed(tmp_path: Path) -> None:
    settings = load_settings(
        None, {"data_dir": tmp_path / "d", "rclone": {"config": tmp_path / "none.conf"}}
    )
    found = rclone_remotes(settings)
    assert found["remotes"] == [] and "none.conf" in found["error"]


def test_doctor_for_a_person_lists_the_remotes_their_own_conf_reaches_never_its_secrets(
    tmp_path: Path,
) -> None:
    """``doctor --user ann``: beside the server's remotes, those of ann's own rclone.conf
    (given with ``ferryman user rclone``), each with its type and whether it answered;
    her password never printed; bob, with none of his own, is told so; no such account
    is a coded failure."""
    assert BINARY is not None
    data = tmp_path / "d"
    served = tmp_path / "served"
    served.mkdir()
    server_conf = tmp_path / "server.conf"
    server_conf.write_text("[srv]\ntype = local\n")
    env = os.environ | {
        "FERRYMAN_RCLONE__CONFIG": str(server_conf),
        "FERRYMAN_NETWORK__PRIVATE_ALLOWED": '["127.0.0.1"]',
    }

    def ferryman(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return forked.run(
            ["--data-dir", str(data), *args],
            capture_output=True, text=True, env=env, timeout=120, input=stdin,
        )  # fmt: skip

    for name in ("ann", "bob"):
        made = ferryman("user", "add", name, "--password", f"pw-{name}-long")
        assert made.returncode == 0, made.stdout + made.stderr
    with serve(BINARY, "webdav", served, "dav") as dav:
        secret = obscured(BINARY, "hunter2-long")
        dead = f"[gone]\ntype = sftp\nhost = 127.0.0.1\nport = {free_port()}\nuser = ann\n"
        hers = f"{dav}{dead}pass = {secret}\n"
        given = ferryman("user", "rclone", "ann", "-", stdin=hers)
        assert given.returncode == 0, given.stdout + given.stderr
        done = ferryman("doctor", "--json", "--user", "ann")
        words = ferryman("doctor", "--user", "ann")
    dav_pass = dav.split("pass = ")[1].split()[0]
    found = json.loads(done.stdout)
    assert {r["remote"] for r in found["rclone"]["remotes"]} == {"srv"}  # the server's
    theirs = found["rclone_user"]
    assert theirs["user"] == "ann" and theirs["own"] and theirs["error"] is None
    by_name = {r["remote"]: r for r in theirs["remotes"]}
    assert set(by_name) == {"dav", "gone"}
    assert by_name["dav"]["ok"] and by_name["dav"]["type"] == "webdav"
    assert not by_name["gone"]["ok"] and by_name["gone"]["type"] == "sftp"
    assert "remotes of ann's own rclone.conf:" in words.stdout
    assert "  dav (webdav): reached" in words.stdout
    assert "  gone (sftp): not reached:" in words.stdout
    for said in (done.stdout, done.stderr, words.stdout, words.stderr):
        assert secret not in said and dav_pass not in said and "hunter2" not in said

    bob = json.loads(ferryman("doctor", "--json", "--user", "bob").stdout)["rclone_user"]
    assert bob["remotes"] == [] and "no rclone.conf of their own" in bob["error"]
    nobody = ferryman("doctor", "--user", "carl")
    assert nobody.returncode != 0 and "no account 'carl'" in nobody.stderr
