"""`ferryman telegram demo`: the chat tried without an account. The command runs as a
newcomer would run it (a fresh process, no settings), the real chat front door, engine,
Telethon client and Telegram sink against the bundled fake; its transcript is checked
line by line. And the chat's refusals say why: `telegram serve` without settings or a
login says so before claiming to serve, and `--to telegram:@foo` says what a username
must be."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from ferryman.errors import FerrymanError
from ferryman.samples import make_photo
from ferryman.sinks.telegram_target import telegram_target
from tests.support import forked


def _ferryman(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return forked.run(
        [*args],
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


def _message(chat: list[str], start: str, edits: str) -> list[str]:
    """A status message as it moved: its first block (``start``), then each of its edits
    where it happened (blocks starting ``ferryman: ↻ {edits}``), stripped of the speaker."""
    found = _block(chat, start)
    for i, line in enumerate(chat):
        if line.startswith(f"ferryman: ↻ {edits}"):
            found += _block(chat[i:], line)
    return [line.removeprefix("ferryman:").strip() for line in found]


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
    # /help, then /settings with a button per value: one pressed, the message shows it.
    assert "e.g. /pass s3cret  or  /pass 4 s3cret" in "\n".join(_block(chat, "ferryman: Send me"))
    shown = _message(chat, "ferryman: your settings:", "your settings:")
    assert "link = 1080p (default): what a link to a video becomes" in shown
    assert "[ link 1080p ] [ link 720p ] [ link mp3 192 ]" in shown
    assert "link = 720p: what a link to a video becomes" in shown  # the edit after the press
    assert "[ link 1080p ] [ ✓ link 720p ] [ link mp3 192 ]" in shown
    pressed = _after(chat, "you:      ▸ [ link 720p ] on “your settings:”")
    assert pressed[1].startswith("ferryman: ▸ link = 720p: what a link to a video becomes")
    # The zip of photos: a job at once, one status message that moved (each edit after ↻)
    # through its download to its summary, with a progress bar and its buttons on the
    # way; then its two albums.
    assert _after(chat, "you:      [file: holiday.zip]")[1] == "ferryman: job 1 holiday: queued"
    status = _message(chat, "ferryman: job 1 holiday: queued", "job 1 holiday")
    assert status[1] == "[ ✓ Everything ] [ Choose files ]"
    assert "↻ job 1 holiday: downloading 0%" in status
    edits = [line for line in status if line.startswith("↻")]
    assert len(edits) >= 2, status
    assert edits[-1].startswith("↻ job 1 holiday: done, 12 delivered, 0 skipped")
    # A bar under a running line. How full it is when an edit lands depends on the
    # machine's pace (the whole job takes about a second): its cells, not their fill.
    bars = [line for line in status if line and set(line) <= {"▰", "▱"}]
    assert bars and all(len(b) == 10 for b in bars), status
    assert status[-2:] == ["2 albums sent", "[ Report ]"]
    albums = [line for line in chat if line.startswith("ferryman: [album of")]
    assert albums[0].startswith("ferryman: [album of 10: photo, photo")
    assert albums[1].startswith("ferryman: [album of 2: photo, photo]  “holiday — 2/2”")
    # The password archive waits for /pass, then comes.
    locked = "\n".join(_message(chat, "ferryman: job 2 secret: queued", "job 2 secret"))
    assert "↻ job 2 secret: needs the archive password; send /pass PASSWORD" in locked
    assert (
        "[ Enter password ] [ Cancel ]" in locked and "↻ job 2 secret: done, 3 delivered" in locked
    )
    assert _after(chat, "you:      /pass open-sesame")[1] == (
        "ferryman: job 2: password added; reading goes on where it stopped"
    )
    # Each edit where it happened: the job is done after the /pass that let it go on
    # (the transcript printed every edit under the first message: "done" before /pass).
    at = {line: i for i, line in reversed(list(enumerate(chat)))}
    done = next(
        i for i, line in enumerate(chat) if line.startswith("ferryman: ↻ job 2 secret: done")
    )
    assert at["you:      /pass open-sesame"] < done
    needs = next(i for i, line in enumerate(chat) if "↻ job 2 secret: needs the archive" in line)
    assert needs < at["you:      /pass open-sesame"]
    assert any(line.startswith("ferryman: [album of 3: photo") for line in chat)
    # The damaged archive: what it could, and why the rest did not come.
    cut = "\n".join(_message(chat, "ferryman: job 3 cut-off: queued", "job 3 cut-off"))
    assert "↻ job 3 cut-off: failed, archive.truncated" in cut and "[ Retry ] [ Report ]" in cut
    report = _block(chat, "ferryman: job 3 cut-off: failed")
    assert report[-1].strip() == "failed photo_3.jpeg: archive.entry_corrupt"
    # Choose files: pressed while the archive's job downloads, a list by folder with
    # sizes (the job held meanwhile; only its media: not the dashcam's .raw), two ticked
    # and delivered; the rest is left alone, and Report says so.
    trip = _message(chat, "ferryman: job 4 trip: queued", "job 4 trip: downloading")
    assert "[ Everything ] [ ✓ Choose files ]" in trip
    assert any(line.startswith("↻ job 4 trip: downloading") for line in trip)
    assert "ferryman: ↻ trip.zip: downloaded; choose its files" in chat
    choose = _after(chat, "you:      ▸ [ Choose files ] on “job 4 trip:")
    assert choose[1] == "ferryman: ▸ you choose the files once it is downloaded"
    listing = [line.strip() for line in _block(chat, "ferryman: trip.zip: 10 files, page 1 of 1")]
    assert listing[1:3] == ["trip/day1/ 1-5", "trip/day2/ 6-10"]  # the files: buttons, once
    assert not any("photo_" in line for line in listing[:4]) and "dashcam" not in str(listing)
    assert any(line.startswith("[ · 2. photo_000021.jpg ") for line in listing)
    assert "[ All ] [ None ]" in listing and "[ Deliver 0 chosen ] [ Drop ]" in listing
    assert "ferryman: ↻ trip.zip: 2 files chosen, job 4; 8 left alone" in chat
    ticked = _after(chat, "you:      ▸ [ · 2. photo_000021.jpg")
    assert ticked[1] == "ferryman: ▸ 1 chosen"
    delivered = _after(chat, "you:      ▸ [ Deliver 2 chosen ]")
    assert delivered[1] == "ferryman: ▸ job 4: 2 files"
    assert "ferryman: [album of 2: photo, photo]  “trip — 1/1”" in delivered
    asked = _after(chat, "you:      ▸ [ Report ] on “job 4 trip: done, 2 delivered, 9 skipped")
    assert asked[1] == "ferryman: ▸ job 4: the report is below"
    report = [line.strip() for line in _block(asked, "ferryman: job 4 trip: done")]
    # The counts agree with the list's: 8 of the 10 offered left alone, and the dashcam's
    # .raw, never offered, skipped for its own reason (it said "skipped 9: not chosen"):
    # a .raw is a camera's RAW by its name (``media.camera_files``), a file only if asked.
    raw = "skipped 1: a camera's RAW file, sent as a file only when asked (send_documents)"
    assert report[1].startswith("2 of 11 delivered")
    assert report[2:] == [raw, "skipped 8: not chosen"], report
    # A link comes as the setting says; its Audio MP3 button converts it, a job of its own.
    link = _after(chat, "you:      this one: http://127.0.0.1:")
    assert link[0].endswith("/clip.mp4")
    assert "[ Video 1080p ] [ 720p ] [ Audio MP3 ]" in "\n".join(
        _message(link, "ferryman: clip:", "job 5 clip")
    )
    assert "ferryman: [video: clip.mp4] clip — 1/1" in link
    audio = _after(link, "you:      ▸ [ Audio MP3 ] on “job 5 clip: done")
    assert audio[1] == "ferryman: ▸ job 6: mp3 of the same link"
    again = "\n".join(_message(audio, "ferryman: clip (2): queued", "job 6 clip"))
    assert "↻ job 6 clip (MP3 192 kbps): done, 1 delivered" in again
    assert "ferryman: [audio: clip (MP3 192 kbps).mp3] clip (MP3 192 kbps) — 1/1" in audio
    # /cancel stops the endless download; /watch and /watches; /status sums it up.
    assert _after(chat, "you:      /cancel")[1].startswith(
        "ferryman: job 7 (big) cancelled while downloading"
    )
    watch = _after(chat, "you:      /watch http://127.0.0.1:")[1]
    assert watch.startswith("ferryman: watch 1: http://127.0.0.1:") and "(feed)" in watch
    assert _after(chat, "you:      /watches")[1].startswith("ferryman: 1 http://127.0.0.1:")
    status_lines = _block(chat, "ferryman: 1 holiday: done, 12/12 files")
    listed = [line.removeprefix("ferryman:").strip() for line in status_lines]
    assert [line.split(":")[0] for line in listed if line[:1].isdigit()] == [
        "1 holiday",
        "2 secret",
        "3 cut-off",
        "4 trip",
        "5 clip",
        "6 clip (MP3 192 kbps)",
        "7 big",
    ]
    # ferryman on a user account: the same choices as numbered options, answered by a reply.
    assert at_home[2:4] == [
        "you:      [file: secret.zip]",
        "ferryman: job 1 secret: queued",
    ]
    home = "\n".join(at_home)
    assert "↻ job 1 secret: needs the archive password" in home
    assert "reply with a number: 1 Enter password · 2 Cancel" in home
    number = _after(at_home, "you:      1  (a reply to “job 1 secret: needs the archive password")
    assert number[1] == "ferryman: job 1: reply to this message with the archive's password"
    assert not number[2].startswith("ferryman: job 1: reply to my message")  # said once
    given = _after(at_home, "you:      open-sesame  (a reply to “job 1: reply to this message")
    assert given[1] == "ferryman: job 1: password added; reading goes on where it stopped"
    assert any(line.startswith("ferryman: [album of 3: photo") for line in at_home)
    assert _after(at_home, "you:      /status")[1] == "ferryman: 1 secret: done, 3/3 files"
    # Then how to do it for real.
    rest = "\n".join(_after(lines, "That was the real chat front door"))
    assert "ferryman telegram login" in rest and "ferryman telegram serve" in rest
    assert "my.telegram.org" in rest and "allow_users" in rest
    # Nothing of the user's: no data dir where it ran, the demo's own one deleted.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list(temp.iterdir()) == []


def test_the_demos_steps_for_real_work_as_typed(tmp_path: Path) -> None:
    """Step 1 put the keys in a ferryman.toml read only with --config, which steps 2 and
    3 (`telegram login`, `serve`) did not give: they said telegram.not_configured. Its
    `config set` lines, typed as shown, set what `login` and `serve` read."""
    import io
    import json
    import shlex

    from rich.console import Console
    from typer.testing import CliRunner

    from ferryman.frontdoors.chat_demo import _print_next_steps
    from ferryman.frontdoors.cli.root import app

    shown = io.StringIO()
    _print_next_steps(Console(file=shown, width=200))
    steps = [line.strip() for line in shown.getvalue().splitlines()]
    typed = [shlex.split(s)[1:] for s in steps if s.startswith("ferryman config set ")]
    assert len(typed) == 3 and "--config" not in shown.getvalue(), shown.getvalue()
    env = {"FERRYMAN_CONFIG": None, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    for args in typed:
        done = CliRunner().invoke(app, args, env=env)
        assert done.exit_code == 0, done.output
    read = CliRunner().invoke(app, ["config", "show", "--json"], env=env)
    telegram = json.loads(read.stdout)["telegram"]
    assert (telegram["api_id"], telegram["allow_users"]) == (123456, ["@your_username"])
    assert telegram["api_hash"]  # masked, but set


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
