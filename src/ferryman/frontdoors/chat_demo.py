"""`ferryman telegram demo`: the chat front door tried without a Telegram account.

The real chat door, engine, store and Telegram sink run, with the real Telethon client,
against ``faketg`` (a protocol-level fake of Telegram's servers, installed with
ferryman) instead of Telegram. A scripted person writes to the bot and presses its
buttons (``chat_demo_steps.STEPS``: commands, /settings, photos, a password archive, a
damaged one, files chosen from an archive, links served by a small HTTP server on
127.0.0.1 that the demo starts, a cancel, a watch), then to ferryman on a user account
(``USER_STEPS``: numbered options answered by a reply). The albums come back into that
chat; the transcripts are printed as the chats show them (messages with their edits and
the buttons each had, presses with the bot's answer), then how to do it for real.

Everything lives in a fresh data dir of its own (deleted at the end unless ``keep``),
so the user's jobs, settings and Telegram session are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from telethon.tl import types

from faketg import FakeTelegram, LinkModel
from faketg.client import FakeDialer, save_login
from ferryman.config import Settings
from ferryman.engine.plumbing.events import EngineStarted
from ferryman.frontdoors.chat_demo_steps import (
    STEPS,
    USER_STEPS,
    Inputs,
    Pressed,
    Script,
    converse,
    feed_xml,
    make_files,
)
from ferryman.frontdoors.startup import running
from ferryman.frontdoors.telegram import serve
from ferryman.telegram.client import make_client

if TYPE_CHECKING:
    from faketg.state import StoredMessage

LINK_BYTES_PER_S = 250_000  # the fake's pace per connection: a status message moves
ENDLESS_BYTES = 1024**3  # what the never-ending download says it has
BOT_NAME, BOT_USERNAME = "ferryman", "ferry_demo_bot"
USER_NAME, USER_USERNAME = "Ferry", "ferry_at_home"  # ferryman on a user account
YOU_NAME, YOU_USERNAME = "You", "newcomer"
SHORT_LINES = 3  # an edit between the first and the last with more lines: its first only
PRESSED_ON = 48  # characters of the message a press or a reply was on


def run_chat_demo(console: Console, *, keep: bool = False) -> int:
    """Run the scripted conversation; 0 when every step ended as the demo expects."""
    folder = Path(tempfile.mkdtemp(prefix="ferryman-chat-demo-"))
    try:
        return asyncio.run(_demo(console, folder))
    finally:
        if keep:
            console.print(
                f"\nthe demo's data dir is kept: {folder} (`ferryman --data-dir {folder} status`)",
                markup=False,
                highlight=False,
            )
        else:
            shutil.rmtree(folder, ignore_errors=True)


def demo_settings(folder: Path, you: int) -> Settings:
    """A data dir of the demo's own; the chat answers ``you`` and sends albums back.
    Neither ferryman.toml nor FERRYMAN_* is read: the demo never uses the user's store."""
    return Settings.model_validate(
        {
            "data_dir": folder / "data",
            "poll_seconds": 0.1,
            "space_floor": 0,
            "network": {"block_private": False},  # the video is served from 127.0.0.1
            "telegram": {
                "api_id": 1,
                "api_hash": "faketg-demo",
                "allow_users": [str(you)],
                "default_target": f"telegram:@{YOU_USERNAME}",
                "status_every_seconds": 1,
            },
        }
    )


async def _demo(console: Console, folder: Path) -> int:
    # Telegram's pace, roughly: a status message has time to move while files travel.
    server = FakeTelegram(link=LinkModel(conn_bytes_per_s=LINK_BYTES_PER_S))
    bot = server.add_user(BOT_NAME, username=BOT_USERNAME, bot=True)
    account = server.add_user(USER_NAME, username=USER_USERNAME)  # a user account's session
    you = server.add_user(YOU_NAME, username=YOU_USERNAME)
    console.print(
        "ferryman's chat, tried on a fake Telegram: the real chat front door, engine and"
        " Telegram client talk to a protocol-level fake of Telegram's servers on this"
        " machine (no account, no network). Making sample inputs…",
        markup=False,
        highlight=False,
    )
    zipped, trip, locked, damaged, video = await asyncio.to_thread(make_files, folder / "inputs")
    with _serving(video) as base:
        links = (f"{base}/clip.mp4", f"{base}/big.bin", f"{base}/feed.xml")
        inputs = Inputs(zipped, trip, locked, damaged, *links)
        acts = [(bot, STEPS, "a bot"), (account, USER_STEPS, "a user account: no buttons")]
        scripts = []
        for n, (me, steps, kind) in enumerate(acts):  # each its own data dir and session
            settings = demo_settings(folder / f"act-{n}", you.id)
            dialer = FakeDialer(server)
            await save_login(server, make_client(settings, dialer), me)  # as after a login
            async with _running_door(settings, dialer) as (store, door):
                script = Script(server, me, you, store, inputs, door)
                ok = await converse(script, steps)
            scripts.append((script, kind))
            if not ok:
                break
    for script, kind in scripts:
        _print_transcript(console, script, kind)
    if not ok:
        console.print(f"\nthe demo stopped: {script.steps[-1:]}", markup=False, highlight=False)
    _print_next_steps(console)
    return 0 if ok else 1


@asynccontextmanager
async def _running_door(settings: Settings, dialer: Any) -> AsyncIterator[tuple[Any, Any]]:
    """``telegram serve`` as it runs: the engine and the door; yields (store, door task)
    once the door is open."""

    stop = asyncio.Event()
    async with running(
        settings, on_signal=stop.set, command="telegram demo", links_expected=True, dialer=dialer
    ) as up:
        opened = asyncio.Event()  # serve starts the engine once the door is open
        up.engine.bus.subscribe(lambda e: opened.set() if isinstance(e, EngineStarted) else None)
        door = asyncio.create_task(
            serve(settings, up.store, dialer=dialer, stop=stop, engine=up.engine)
        )
        waiting = asyncio.create_task(opened.wait())
        try:
            await asyncio.wait({door, waiting}, return_when=asyncio.FIRST_COMPLETED)
            yield up.store, door
        finally:
            waiting.cancel()
            stop.set()
            await door


def _print_transcript(console: Console, script: Script, kind: str) -> None:
    console.print(
        f"\n── the chat with @{script.bot.username} ({kind}), as your Telegram app shows it ──",
        markup=False,
        highlight=False,
    )
    console.print(
        f"(you are @{YOU_USERNAME}: telegram.allow_users lets you in, and"
        f" telegram.default_target = telegram:@{YOU_USERNAME} sends the albums back here;"
        " a message's edits are shown where they happened, marked ↻, with its buttons [ … ]"
        " as they were then; a press shows as ▸ with the bot's answer, a toast in the app)",
        markup=False,
        highlight=False,
    )
    # Each thing where it happened: a message at its place, an edit after the newest
    # message there was when it was made (so a job's "done" follows the /pass that let
    # it go on), a press likewise; at one place, in the order they happened.
    timeline: list[tuple[int, int, Callable[[], None]]] = []
    for _, grouped in itertools.groupby(script.chat(), key=lambda m: m.grouped_id or -m.id):
        timeline += _events(console, script, list(grouped))
    for pressed in script.presses:
        timeline.append(
            (pressed.after, pressed.order, functools.partial(_pressed, console, pressed))
        )
    for _, _, show in sorted(timeline, key=lambda e: (e[0], e[1])):
        show()


def _events(
    console: Console, script: Script, shown_together: list[StoredMessage]
) -> list[tuple[int, int, Callable[[], None]]]:
    """A message (an album's messages show as one) at its place, then each of its
    edits at its own."""
    m = shown_together[0]
    who = "ferryman" if m.from_id == script.bot.id else "you"
    if len(shown_together) > 1:
        kinds = ", ".join(_kind(a) for a in shown_together)
        caption = f"  “{m.text}”" if m.text else ""
        said = f"[album of {len(shown_together)}: {kinds}]{caption}"
        return [(m.id, 0, functools.partial(_line, console, who, said))]
    text = m.text
    if m.media is not None:
        text = f"[{_kind(m)}: {_file_name(m)}] {text}".rstrip()
    if m.id in script.replied:  # a reply to ferryman: to which message, as it was
        text = f"{text}  (a reply to “{_cut(script.replied[m.id])}”)"
    texts, markups = [*m.history, text], [*m.markups, m.reply_markup]
    events: list[tuple[int, int, Callable[[], None]]] = [
        (m.id, 0, functools.partial(_version, console, who, texts, markups, 0))
    ]
    for n, (after, order) in enumerate(m.edited, start=1):
        events.append((after, order, functools.partial(_version, console, who, texts, markups, n)))
    return events


def _version(console: Console, who: str, texts: list[str], markups: list[Any], n: int) -> None:
    """Version ``n`` of a message: an edit after ↻, with the buttons it had then; a long
    one between the first and the last (a list of files ticked) by its first line."""
    text, markup = texts[n], markups[n]
    between = 0 < n < len(texts) - 1 and len(text.splitlines()) > SHORT_LINES
    lines = text.splitlines()[:1] if between else text.splitlines()
    if n and lines:
        lines[0] = f"↻ {lines[0]}"
    if not between:
        lines += [f"  {row}" if n else row for row in _rows(markup)]
    _line(console, who, "\n".join(lines))


def _pressed(console: Console, pressed: Pressed) -> None:
    _line(console, "you", f"▸ [ {pressed.button} ] on “{_cut(pressed.on)}”")
    _line(console, "ferryman", f"▸ {pressed.answer or '(no answer)'}")


def _cut(text: str) -> str:
    return text if len(text) <= PRESSED_ON else text[: PRESSED_ON - 1] + "…"


def buttons(message: Any) -> list[str]:
    """A message's inline buttons as drawn under it, a line a row:
    ``[ Everything ] [ Choose files ]`` (none without buttons)."""
    return _rows(getattr(message, "reply_markup", None))


def _rows(markup: Any) -> list[str]:
    rows = getattr(markup, "rows", None) or []
    return [" ".join(f"[ {b.text} ]" for b in row.buttons) for row in rows if row.buttons]


def _line(console: Console, who: str, text: str) -> None:
    lines = text.splitlines() or [""]
    label = f"{who}:" if who else ""
    console.print(f"{label:<10}{lines[0]}", markup=False, highlight=False)
    for rest in lines[1:]:
        console.print(f"{'':<10}{rest}", markup=False, highlight=False)


def _kind(message: StoredMessage) -> str:
    """What the app shows: a photo, a video, or a file."""

    media = message.media
    if media is None:
        return "text"
    if media.kind == "photo":
        return "photo"
    if any(isinstance(a, types.DocumentAttributeVideo) for a in media.attributes):
        return "video"
    if any(isinstance(a, types.DocumentAttributeAudio) for a in media.attributes):
        return "audio"
    return "file"


def _file_name(message: StoredMessage) -> str:
    media = message.media
    if media is None:
        return ""
    for attribute in media.attributes:
        if isinstance(attribute, types.DocumentAttributeFilename):
            return str(attribute.file_name)
    return media.file.name


def _print_next_steps(console: Console) -> None:
    for line in (
        "",
        "That was the real chat front door, on a fake Telegram. To do it for real, with",
        "your own account or a bot:",
        "  1. get an api_id and api_hash at https://my.telegram.org (API development tools)",
        "     and put them in your settings file, with who may use the chat:",
        "       ferryman config set telegram.api_id 123456",
        "       ferryman config set telegram.api_hash YOUR_API_HASH",
        "       ferryman config set telegram.allow_users @your_username",
        "     (`ferryman config path` says where the file is, `ferryman config edit` opens it)",
        "  2. ferryman telegram login    (your account by phone and code; --bot with a token",
        "     from @BotFather)",
        "  3. ferryman telegram serve    then send it a zip or a link from your phone",
        "`ferryman docs telegram` tells the rest.",
    ):
        console.print(line, markup=False, highlight=False)


class _Files(BaseHTTPRequestHandler):
    """The demo's web server: the video, a feed, and a download that never ends."""

    video: bytes = b""
    base: str = ""
    stopping = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if name == "big.bin":
            self._endless(send_body)
            return
        body, kind = (
            (feed_xml(self.base), "application/rss+xml")
            if name == "feed.xml"
            else (self.video, "video/mp4")
        )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            with contextlib.suppress(OSError):  # the client went (the demo ended)
                self.wfile.write(body)

    def _endless(self, send_body: bool) -> None:
        """A big file that trickles in, until the client goes (a /cancel) or the demo ends."""
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(ENDLESS_BYTES))
        self.end_headers()
        if not send_body:
            return
        try:
            while not self.stopping.wait(0.05):
                self.wfile.write(b"\0" * 4096)
                self.wfile.flush()
        except OSError:
            return  # the client went: the download was cancelled


@contextmanager
def _serving(video: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 for the demo's links; yields its address."""
    stopping = threading.Event()
    handler: type[_Files] = type(
        "Handler", (_Files,), {"video": video.read_bytes(), "stopping": stopping}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler.base = base
    thread = threading.Thread(target=server.serve_forever, name="demo-http", daemon=True)
    thread.start()
    try:
        yield base
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
