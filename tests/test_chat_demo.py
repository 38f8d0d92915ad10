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
from types import SimpleNamespace

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


def _block(chat: list[str], start: str) -> list[str]:
    """One message of the transcript: its first line (``start``) and those under it."""
    rest = _after(chat, start)
    end = next((i for i, line in enumerate(rest[1:], 1) if not line.startswith(" ")), len(rest))
    return rest[:end]


@pytest.mark.slow
def test_the_chat_demo_prints_the_conversation_and_how_to_do_it_for_real(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    ran = _ferryman("telegram", "demo", cwd=tmp_path, TMPDIR=str(temp))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    told, *chat = _after(lines, "── the chat with @ferry_demo_bot (a bot)")[1:]
    assert told.startswith("(you are @newcomer") and "telegram.default_target" in told
    at_home = _after(chat, "── the chat with @ferry_at_home (a user account: no buttons)")
    chat = chat[: len(chat) - len(at_home)]
    # /help, then /settings: the person's own, changed for the links to come.
    assert "/pass s3cret  or  /pass 4 s3cret" in "\n".join(_block(chat, "ferryman: Send me"))
    shown = _block(chat, "ferryman: your settings:")
    assert any(line.strip().startswith("link = 1080p (default)") for line in shown)
    assert _after(chat, "you:      /settings link 720p")[1].startswith("ferryman: link = 720p")
    # The zip of photos: one status message that moved (each edit after ↻) to its summary,
    # with a progress bar on the way; then its two albums.
    assert _after(chat, "you:      [file: holiday.zip]")[1].startswith(
        "ferryman: holiday.zip: downloading 0%"
    )
    status = _block(chat, "ferryman: holiday.zip: downloading 0%")
    edits = [line.strip() for line in status if line.strip().startswith("↻")]
    assert len(edits) >= 2, status
    assert edits[-1].startswith("↻ job 1 holiday: done, 12 delivered, 0 skipped")
    assert any("▰" in line for line in status) and status[-2].strip() == "2 albums sent"
    assert status[-1].strip() == "[ Report ]"  # a bot's buttons, drawn under the summary
    albums = [line for line in chat if line.startswith("ferryman: [album of")]
    assert albums[0].startswith("ferryman: [album of 10: photo, photo")
    assert albums[1].startswith("ferryman: [album of 2: photo, photo]  “holiday — 2/2”")
    # The password archive waits for /pass, then comes.
    locked = "\n".join(_block(chat, "ferryman: secret.zip: downloading 0%"))
    assert "↻ job 2 secret: needs the archive password; send /pass PASSWORD" in locked
    assert "↻ job 2 secret: done, 3 delivered" in locked
    assert _after(chat, "you:      /pass open-sesame")[1] == (
        "ferryman: job 2: password added; reading goes on where it stopped"
    )
    assert any(line.startswith("ferryman: [album of 3: photo") for line in chat)
    # The damaged archive: what it could, and why the rest did not come.
    cut = "\n".join(_block(chat, "ferryman: cut-off.zip: downloading 0%"))
    assert "↻ job 3 cut-off: failed, archive.truncated" in cut
    report = _block(chat, "ferryman: job 3 cut-off: failed")
    assert report[-1].strip() == "failed photo_3.jpeg: archive.entry_corrupt"
    # A link whose caption asks for MP3 (over the setting's 720p): converted, as audio.
    link = _after(chat, "you:      just the sound of this one: http://127.0.0.1:")
    assert link[0].endswith("/clip.mp4 mp3 192")
    # The converting phase is shown when it outlasts the edit interval (not on a fast
    # machine); the MP3 delivered from an MP4 link is the conversion either way.
    assert "↻ job 4 clip: done, 1 delivered" in "\n".join(_block(link, "ferryman: clip: queued"))
    assert "ferryman: [audio: clip.mp3] clip — 1/1" in link
    # /cancel stops the endless download; /watch and /watches; /status sums it up.
    assert _after(chat, "you:      /cancel")[1].startswith(
        "ferryman: job 5 (big) cancelled while downloading"
    )
    watch = _after(chat, "you:      /watch http://127.0.0.1:")[1]
    assert watch.startswith("ferryman: watch 1: http://127.0.0.1:") and "(feed)" in watch
    assert _after(chat, "you:      /watches")[1].startswith("ferryman: 1 http://127.0.0.1:")
    status_lines = _block(chat, "ferryman: 1 holiday: done, 12/12 files")
    listed = [line.removeprefix("ferryman:").strip() for line in status_lines]
    assert [line for line in listed if line[:1].isdigit()] == [
        "1 holiday: done, 12/12 files",
        "2 secret: done, 3/3 files",
        "3 cut-off: failed, 3/3 files",
        "4 clip: done, 1/1 files",
        "5 big: cancelled, 0/0 files",
    ]
    # ferryman on a user account: the same chat, its choices answered by replies.
    assert at_home[2:4] == [
        "you:      [file: secret.zip]",
        "ferryman: secret.zip: downloading 0% (0 kB of 30 kB)",
    ]
    assert "↻ job 1 secret: needs the archive password" in "\n".join(at_home)
    assert _after(at_home, "you:      /pass open-sesame")[1].startswith("ferryman: job 1: password")
    assert any(line.startswith("ferryman: [album of 3: photo") for line in at_home)
    assert _after(at_home, "you:      /status")[1] == "ferryman: 1 secret: done, 3/3 files"
    # Then how to do it for real.
    rest = "\n".join(_after(lines, "That was the real chat front door"))
    assert "ferryman telegram login" in rest and "ferryman telegram serve" in rest
    assert "my.telegram.org" in rest and "allow_users" in rest
    # Nothing of the user's: no data dir where it ran, the demo's own one deleted.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list(temp.iterdir()) == []


def test_the_transcript_draws_a_messages_buttons_a_line_a_row() -> None:
    from telethon.tl import types

    from ferryman.frontdoors.chat_demo import buttons

    def button(text: str) -> types.KeyboardInlineButton:
        return types.KeyboardInlineButton(text, types.InlineButtonTypeCallback(text.encode()))

    markup = types.ReplyInlineMarkup(
        [
            types.KeyboardInlineButtonRow([button("Everything"), button("Choose files")]),
            types.KeyboardInlineButtonRow([button("As documents")]),
        ]
    )
    message = SimpleNamespace(reply_markup=markup)
    assert buttons(message) == ["[ Everything ] [ Choose files ]", "[ As documents ]"]
    assert buttons(SimpleNamespace(reply_markup=None)) == []


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
