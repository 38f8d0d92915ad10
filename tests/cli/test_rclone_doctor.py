"""``ferryman doctor`` names the rclone remotes it reaches: asked of a real ``rclone rcd``
over a config with a local remote, a WebDAV server rclone serves on loopback, and an
SFTP box whose port nothing listens on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.config import load_settings
from ferryman.frontdoors.cli.doctor import rclone_remotes
from ferryman.net.rclone import rclone_binary
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


def test_a_config_that_is_not_there_is_said_not_failed(tmp_path: Path) -> None:
    settings = load_settings(
        None, {"data_dir": tmp_path / "d", "rclone": {"config": tmp_path / "none.conf"}}
    )
    found = rclone_remotes(settings)
    assert found["remotes"] == [] and "none.conf" in found["error"]
