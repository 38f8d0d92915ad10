"""``ferryman doctor`` names the rclone remotes it reaches: asked of a real ``rclone rcd``
over a config with a local remote, a WebDAV server rclone serves on loopback, and an
SFTP box whose port nothing listens on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
        without = os.environ | {"FERRYMAN_RCLONE__CONFIG": str(tmp_path / "none.conf")}
        done = forked.run(
            ["--data-dir", str(tmp_path / "d"), "doctor", "--json"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        words = forked.run(
            ["--data-dir", str(tmp_path / "d"), "doctor"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        missing = forked.run(
            ["--data-dir", str(tmp_path / "d"), "doctor", "--json"],
            capture_output=True, text=True, env=without, timeout=120,
        )  # fmt: skip
    found = json.loads(done.stdout)["rclone"]
    assert found["binary"] == BINARY and found["config"] == str(conf)
    by_name = {r["remote"]: r for r in found["remotes"]}
    assert set(by_name) == {"loc", "dav", "gone"}
    assert by_name["loc"]["ok"] and by_name["dav"]["ok"]
    assert not by_name["gone"]["ok"] and by_name["gone"]["why"]
    assert "  dav: reached" in words.stdout and "  gone: not reached:" in words.stdout
    # An optional remote out of reach, or a config not there, is said; the exit is the
    # same as doctor's without any.
    assert done.returncode == missing.returncode
    absent = json.loads(missing.stdout)["rclone"]
    assert absent["remotes"] == [] and "none.conf" in absent["error"]
