"""`ferryman telegram demo`: the chat tried without an account. The command runs as a
newcomer would run it (a fresh process, no settings), the real chat front door, engine,
Telethon client and Telegram sink against the bundled fake; its transcript is checked
line by line. And the chat's refusals say why: `telegram serve` without settings or a
login says so before claiming to serve, and `--to telegram:@foo` says what a username
must be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.errors import FerrymanError
from ferryman.samples import make_photo
from ferryman.sinks.telegram_kind import telegram_target


def _ferryman(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return subprocess.run(
        [sys.executable, "-m", "ferryman", *args],
        env=clean | {"COLUMNS": "200"} | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _after(lines: list[str], start: str) -> list[str]:
    """The lines from the first that starts with ``start`` on."""
    at = next(i for i, line in enumerate(lines) if line.startswith(start))
    return lines[at:]


def test_the_chat_demo_prints_the_conversation_and_how_to_do_it_for_real(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    ran = _ferryman("telegram", "demo", cwd=tmp_path, TMPDIR=str(temp))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    told, *chat = _after(lines, "── the chat with @ferry_demo_bot")[1:]
    assert told.startswith("(you are @newcomer") and "telegram.default_target" in told
    said = [line.split(":", 1)[0] for line in chat if line[:1].isalpha() and ":" in line[:10]]
    assert said[:4] == ["you", "ferryman", "ferryman", "you"], chat
    # The zip, its status message (edited to its summary), its album of four photos.
    assert chat[0] == "you:      [file: holiday.zip]"
    assert (
        chat[1].startswith("ferryman: job 1 holiday: done, 4 delivered") and "(edited)" in chat[1]
    )
    assert chat[2].startswith("ferryman: [album of 4: photo, photo, photo, photo]")
    # The link, served on loopback by the demo, fetched and sent back as a video.
    assert chat[3].startswith("you:      and this video please: http://127.0.0.1:")
    assert chat[4].startswith("ferryman: job 2 clip: done, 1 delivered")
    assert chat[5].startswith("ferryman: [video: clip.mp4]")
    # /status lists both jobs; /report tells the last one's story.
    status = _after(chat, "you:      /status")
    assert status[1] == "ferryman: 1 holiday: done, 4/4 files"
    assert status[2].strip() == "2 clip: done, 1/1 files"
    report = _after(chat, "you:      /report")
    assert report[1] == "ferryman: job 2 clip: done"
    assert "1 of 1 delivered" in report[2]
    # Then how to do it for real.
    rest = "\n".join(_after(lines, "That was the real chat front door"))
    assert "ferryman telegram login" in rest and "ferryman telegram serve" in rest
    assert "my.telegram.org" in rest and "allow_users" in rest
    # Nothing of the user's: no data dir where it ran, the demo's own one deleted.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list(temp.iterdir()) == []


def test_serve_without_settings_or_login_says_so_before_serving(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bare = _ferryman("--data-dir", data, "telegram", "serve", cwd=tmp_path)
    told = bare.stdout + bare.stderr
    assert bare.returncode == 4 and "telegram.not_configured" in told
    assert "ferryman telegram demo" in told  # how to try it without an account
    assert "serving" not in told
    keys = {"FERRYMAN_TELEGRAM__API_ID": "1", "FERRYMAN_TELEGRAM__API_HASH": "x"}
    unlogged = _ferryman("--data-dir", data, "telegram", "serve", cwd=tmp_path, **keys)
    told = unlogged.stdout + unlogged.stderr
    assert unlogged.returncode == 4 and "telegram.not_logged_in" in told
    assert "serving" not in told


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("@foo", "a username has 5 to 32 characters"),
        ("@1abc5", "starts with a letter"),
        ("@bad-name", "only letters, digits and underscores"),
        ("@" + "a" * 40, "at most 32 characters"),
        ("-1001234/topic/x", "/topic/ID"),
    ],
)
def test_a_chat_that_is_not_one_says_why(target: str, why: str) -> None:
    with pytest.raises(FerrymanError) as caught:
        telegram_target(target)
    assert caught.value.code == "sink.unknown" and why in caught.value.message


def test_add_to_a_too_short_username_says_why(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    added = _ferryman(
        "--data-dir", str(tmp_path / "data"), "add", str(photo), "--to", "telegram:@foo",
        cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode != 0
    assert "'@foo' is not a chat: a username has 5 to 32 characters" in added.stderr
