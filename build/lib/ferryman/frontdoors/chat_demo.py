"""`ferryman telegram demo`: the chat front door tried without a Telegram account.

The real chat door, engine, store and Telegram sink run, with the real Telethon client,
against ``faketg`` (a protocol-level fake of Telegram's servers, installed with
ferryman) instead of Telegram. A scripted person writes to the bot: a zip of photos, a
link to a video (served by a small HTTP server on 127.0.0.1 that the demo starts),
``/status`` and ``/report``. The albums come back into that chat; the transcript is
printed as the chat shows it, then how to do it for real.

Everything lives in a fresh data dir of its own (deleted at the end unless ``keep``),
so the user's jobs, settings and Telegram session are never touched.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from ferryman.config import Settings
from ferryman.engine.events import EngineStarted

if TYPE_CHECKING:
    from faketg import FakeTelegram
    from faketg.state import Account, StoredMessage
    from ferryman.store import Store

T = TypeVar("T")

STEP_SECONDS = 120.0  # one step of the script (a zip made into albums) may take this long
PHOTOS = 4
BOT_NAME, BOT_USERNAME = "ferryman", "ferry_demo_bot"
YOU_NAME, YOU_USERNAME = "You", "newcomer"


@dataclass
class Script:
    """What the scripted person does, and what the demo saw happen."""

    server: FakeTelegram
    bot: Account
    you: Account
    store: Store
    steps: list[str] = field(default_factory=list)

    def chat(self) -> list[StoredMessage]:
        """The chat, both sides in order, as the bot's box has it: its own messages are
        its copies there, so a status message shows as last edited (what the person's
        app shows too)."""
        return sorted(self.server.chat(self.you, viewer=self.bot), key=lambda m: m.id)

    def bot_said(self) -> list[StoredMessage]:
        return [m for m in self.chat() if m.from_id == self.bot.id]


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
    from faketg import FakeTelegram
    from faketg.client import FakeDialer, save_login
    from ferryman.frontdoors.startup import running
    from ferryman.frontdoors.telegram import serve
    from ferryman.telegram.client import make_client

    server = FakeTelegram()
    bot = server.add_user(BOT_NAME, username=BOT_USERNAME, bot=True)
    you = server.add_user(YOU_NAME, username=YOU_USERNAME)
    settings = demo_settings(folder, you.id)
    dialer = FakeDialer(server)
    console.print(
        "ferryman's chat, tried on a fake Telegram: the real chat front door, engine and"
        " Telegram client talk to a protocol-level fake of Telegram's servers on this"
        " machine (no account, no network). Making sample inputs…",
        markup=False,
        highlight=False,
    )
    zipped, video = await asyncio.to_thread(_inputs, folder / "inputs")
    await save_login(server, make_client(settings, dialer), bot)  # as `telegram login` leaves
    stop = asyncio.Event()
    with _serving_file(video, "video/mp4") as link:
        async with running(
            settings, on_signal=stop.set, command="telegram demo", dialer=dialer
        ) as started:
            engine = started.engine
            opened = asyncio.Event()  # serve starts the engine once the door is open
            engine.bus.subscribe(lambda e: opened.set() if isinstance(e, EngineStarted) else None)
            door = asyncio.create_task(
                serve(settings, started.store, dialer=dialer, stop=stop, engine=engine)
            )
            script = Script(server, bot, you, started.store)
            try:
                ok = await _until(_set(opened), door) and await _converse(
                    script, zipped, link, door
                )
            finally:
                stop.set()
                await door
    _print_transcript(console, script)
    _print_next_steps(console)
    return 0 if ok else 1


def _inputs(folder: Path) -> tuple[Path, Path]:
    """A zip of photos and a short video, made on the spot (as `ferryman demo` does)."""
    from ferryman.samples import make_photo_set, make_video, make_zip

    photos = make_photo_set(folder / "photos", PHOTOS, size=(640, 480))
    zipped = make_zip(folder / "holiday.zip", [(p.name, p) for p in photos])
    video = make_video(folder / "clip.mp4", 7, seconds=2.0, size=(320, 240))
    return zipped, video


async def _converse(script: Script, zipped: Path, link: str, door: asyncio.Task[None]) -> bool:
    """The person's side: each step waits for ferryman's answer before the next."""
    from faketg.people import user_sends
    from ferryman.model import JobState

    def send(text: str = "", **kw: Any) -> None:
        user_sends(script.server, script.you, script.bot, text=text, **kw)

    async def jobs_done(count: int) -> bool:
        jobs = await script.store.list_jobs()
        ended = [j for j in jobs if j.state in (JobState.DONE, JobState.FAILED)]
        return len(jobs) >= count and len(ended) == len(jobs)

    def answered(before: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(script.bot_said()) > before

        return check

    send(file=await asyncio.to_thread(zipped.read_bytes), name=zipped.name)
    if not await _until(lambda: jobs_done(1), door):
        return False
    send(f"and this video please: {link}")
    if not await _until(lambda: jobs_done(2), door):
        return False

    async def summaries_shown() -> bool:  # each job's status message edited to its end
        ended = [m.text for m in script.bot_said() if ": done" in m.text or "failed" in m.text]
        jobs = await script.store.list_jobs()
        return all(any(t.startswith(f"job {j.id} ") for t in ended) for j in jobs)

    if not await _until(summaries_shown, door):
        return False
    for command in ("/status", "/report"):
        before = len(script.bot_said())
        send(command)
        if not await _until(answered(before), door):
            return False
    jobs = await script.store.list_jobs()
    return all(j.state is JobState.DONE for j in jobs)


def _set(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return event.is_set()

    return check


async def _until(check: Callable[[], Awaitable[bool]], door: asyncio.Task[None]) -> bool:
    """Wait for ``check``; False after ``STEP_SECONDS`` or when the door stopped."""
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline and not door.done():
        if await check():
            return True
        await asyncio.sleep(0.2)
    if door.done():
        door.result()  # the door failed: say why
    return False


def _print_transcript(console: Console, script: Script) -> None:
    console.print(
        f"\n── the chat with @{BOT_USERNAME}, as your Telegram app shows it ──",
        markup=False,
        highlight=False,
    )
    console.print(
        f"(you are @{YOU_USERNAME}: telegram.allow_users lets you in, and"
        f" telegram.default_target = telegram:@{YOU_USERNAME} sends the albums back here)",
        markup=False,
        highlight=False,
    )
    for _, grouped in itertools.groupby(script.chat(), key=lambda m: m.grouped_id or -m.id):
        shown_together = list(grouped)  # an album's messages show as one
        m = shown_together[0]
        who = "ferryman" if m.from_id == script.bot.id else "you"
        if len(shown_together) > 1:
            kinds = ", ".join(_kind(a) for a in shown_together)
            caption = f"  “{m.text}”" if m.text else ""
            _line(console, who, f"[album of {len(shown_together)}: {kinds}]{caption}")
            continue
        text = m.text
        if m.media is not None:
            text = f"[{_kind(m)}: {_file_name(m)}] {text}".rstrip()
        if m.edits:
            text += "  (edited)"
        _line(console, who, text)


def _line(console: Console, who: str, text: str) -> None:
    lines = text.splitlines() or [""]
    console.print(f"{who + ':':<10}{lines[0]}", markup=False, highlight=False)
    for rest in lines[1:]:
        console.print(f"{'':<10}{rest}", markup=False, highlight=False)


def _kind(message: StoredMessage) -> str:
    """What the app shows: a photo, a video, or a file."""
    from telethon.tl import types

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
    from telethon.tl import types

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
        "     and put them in a ferryman.toml, with who may use the chat:",
        "       [telegram]",
        "       api_id = 123456",
        '       api_hash = "…"',
        '       allow_users = ["@your_username"]',
        "     (ferryman reads it with --config ferryman.toml, or FERRYMAN_CONFIG=ferryman.toml)",
        "  2. ferryman telegram login    (your account by phone and code; --bot with a token",
        "     from @BotFather)",
        "  3. ferryman telegram serve    then send it a zip or a link from your phone",
        "docs/telegram.md tells the rest.",
    ):
        console.print(line, markup=False, highlight=False)


class _OneFile(BaseHTTPRequestHandler):
    """Serves the demo's one video at any path, as a plain web server would."""

    body: bytes = b""
    content_type = "application/octet-stream"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(self.body)


@contextmanager
def _serving_file(path: Path, content_type: str) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``path``; yields its link."""
    handler = type(
        "Handler", (_OneFile,), {"body": path.read_bytes(), "content_type": content_type}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
