"""The chat's commands: each a thin call into the engine's control, report and settings.

A command without a job number means the obvious job: the newest one the command can
act on (``/pass`` the newest waiting for a password, ``/resume`` the newest paused…).
Answers are short plain text; an error is its code and message. Each acts for the
person asking (``Who.person``, ``ops/who``): a chat user linked to an ordinary account
sees and acts on their own jobs and watches only, sets their own settings only, and
sends only to places of theirs; the engine's settings and ``/cleanup`` are an
administrator's (an allow-listed user linked to no account is the machine's own).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.ops import control, report, runtime_config
from ferryman.engine.ops import who as asking
from ferryman.engine.plumbing.quarantine import list_quarantine
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram import cleanup, render, thumbnail
from ferryman.frontdoors.telegram.help import help_text
from ferryman.frontdoors.telegram.inbox import Inbox
from ferryman.frontdoors.telegram.user_settings import UserSettings, Who, is_user_key
from ferryman.model import Job, JobState
from ferryman.net.rclone_path import shown_dest
from ferryman.store.ports import ChatDoor

Handler = Callable[[str], Awaitable[str]]
LIST_MAX = 15  # lines in /status, /queue, /quarantine


@dataclass(frozen=True, slots=True)
class Pick:
    """Which jobs a command without a number may mean, and what to say if none."""

    fits: Callable[[Job], bool]
    none: str


_ACTIVE = Pick(lambda j: not j.state.terminal, "no job is running")
_PICKS = {
    "pass": Pick(lambda j: j.state is JobState.NEEDS_PASSWORD, "no job waits for a password"),
    "cancel": _ACTIVE,
    "pause": Pick(lambda j: not j.state.terminal and not j.paused, "no job to pause"),
    "resume": Pick(lambda j: not j.state.terminal and j.paused, "no job is paused"),
    "retry": Pick(
        lambda j: j.state in (JobState.FAILED, JobState.CANCELLED), "no failed or cancelled job"
    ),
    "report": Pick(lambda _j: True, "there are no jobs yet"),
}


class Commands:
    def __init__(
        self, settings: Settings, store: ChatDoor, inbox: Inbox, wake: Callable[[], None]
    ) -> None:
        self.settings = settings
        self.store = store
        self.inbox = inbox
        self.wake = wake
        allowed = asking.allowed_places(settings)
        self.mine = UserSettings(store, inbox.sinks, allowed, inbox.resources)
        self.who = Who(0, 0)  # who sent the command being answered (one at a time)
        self.message: Any = None  # and its message
        self.bot = False  # a bot session (set at start): /help says so
        self.table: dict[str, Handler] = {
            "help": self.help,
            "start": self.help,
            "status": self.status,
            "queue": self.queue,
            "pass": self.password,
            "cancel": self.cancel,
            "retry": self.retry,
            "pause": self.pause,
            "resume": self.resume,
            "report": self.report,
            "quarantine": self.quarantine,
            "cleanup": self.cleanup,
            "settings": self.settings_cmd,
            "watch": self.watch,
            "watches": self.watches,
            "unwatch": self.unwatch,
            "link": self.link,
        }

    async def run(self, text: str, who: Who | None = None, message: Any = None) -> str:
        """``who``: the person asking, for their own settings (``/settings``, ``/watch``);
        ``message``: the command's (``/settings thumbnail`` reads the photo it replies to)."""
        self.who = who or Who(0, 0)
        self.message = message
        head, _, rest = text.strip().partition(" ")
        name = head.lstrip("/").split("@", 1)[0].lower()
        handler = self.table.get(name)
        if handler is None:
            return f"unknown command /{name}; /help lists them"
        try:
            return await handler(rest.strip())
        except FerrymanError as exc:
            return f"{exc.code}: {exc.message}"

    # -------------------------------------------------------------- jobs

    async def _job(self, command: str, arg: str) -> Job:
        """The job a command means: the number given, else the newest that fits."""
        person = self.who.person
        if arg:
            number = arg.lstrip("#")
            if not number.isdigit():
                raise FerrymanError("job.not_found", f"'{arg}' is not a job number")
            return await asking.own_job(self.store, person, int(number))
        pick = _PICKS[command]
        jobs = await self.store.list_jobs()
        fitting = [j for j in jobs if pick.fits(j) and person.sees(j.account)]
        if not fitting:
            raise FerrymanError("job.not_found", pick.none)
        return fitting[-1]

    async def link(self, arg: str) -> str:
        """``/link CODE``: this chat user becomes the page's account that made the code
        (Link Telegram on the page): their chat jobs are theirs on the page."""
        code = arg.strip()
        if not code:
            return "send /link CODE, the code the page shows under Link Telegram"
        hashed = "sha256:" + hashlib.sha256(code.encode()).hexdigest()
        account = await self.store.take_link_code(hashed)
        user = await self.store.user(account) if account is not None else None
        if user is None:
            raise FerrymanError("account.link_code", "this code is wrong or expired")
        await self.store.update_user(user.id, tg_user_id=self.who.user_id)
        return f"linked to {user.name}: what you send here is theirs on the page"

    async def help(self, _arg: str) -> str:
        return help_text(self.bot)

    async def status(self, _arg: str) -> str:
        jobs = (await report.status(self.store, who=self.who.person))["jobs"]
        if not jobs:
            return "no jobs yet; send me an archive or a media file"
        return "\n".join(render.job_row(j) for j in jobs[-LIST_MAX:])

    async def queue(self, _arg: str) -> str:
        sees = self.who.person.sees
        waiting = [
            j for j in await self.store.list_jobs() if not j.state.terminal and sees(j.account)
        ]
        waiting.sort(key=lambda j: (-j.priority, j.id))
        per_job = await self.store.item_counts()
        shown = [render.job_shown(j, per_job.get(j.id, {})).text for j in waiting[:LIST_MAX]]
        lines = [text.splitlines()[0] for text in shown]  # without the progress bar
        return "\n".join(lines) or "nothing waits"

    async def password(self, arg: str) -> str:
        if not arg:
            return "send /pass PASSWORD (or /pass JOB PASSWORD)"
        first, _, rest = arg.partition(" ")
        job: Job | None = None
        secret = arg
        if rest.strip() and first.lstrip("#").isdigit():
            try:
                job = await asking.own_job(self.store, self.who.person, int(first.lstrip("#")))
                secret = rest.strip()
            except FerrymanError:
                job = None  # a password that starts with a number
        if job is None:
            job = await self._job("pass", "")
        found = await control.give_password(self.store, job.id, secret, who=self.who.person)
        self.wake()
        self.inbox.board.touch(job.id)  # its status message (and buttons) follow
        if found.state is JobState.QUEUED:
            return f"job {job.id}: password added; reading goes on where it stopped"
        return f"job {job.id}: password added (the job is {found.state.value})"

    async def cancel(self, arg: str) -> str:
        """``/cancel N``: job N. Without a number: the newest job that has not ended (a
        file sent in the chat is one from its first byte)."""
        job = await self._job("cancel", arg)
        fetch = await self.store.fetched(job.id)
        downloading = fetch is not None and fetch.state in ("queued", "fetching")
        await control.cancel_job(self.store, job.id, who=self.who.person)
        self.wake()  # a download in progress stops now, not at its next heartbeat
        self.inbox.board.touch(job.id)
        where = " while downloading (the partial download is deleted)" if downloading else ""
        return f"job {job.id} ({job.name}) cancelled{where}; its work files are deleted"

    async def retry(self, arg: str) -> str:
        job = await self._job("retry", arg)
        await control.retry_job(self.store, job.id, who=self.who.person)
        self.wake()
        self.inbox.board.touch(job.id)
        return f"job {job.id} queued again"

    async def pause(self, arg: str) -> str:
        job = await self._job("pause", arg)
        await control.pause_job(self.store, job.id, who=self.who.person)
        return f"job {job.id} paused"

    async def resume(self, arg: str) -> str:
        job = await self._job("resume", arg)
        await control.resume_job(self.store, job.id, who=self.who.person)
        self.wake()
        return f"job {job.id} resumed"

    async def report(self, arg: str) -> str:
        job = await self._job("report", arg)
        return render.report_text(await report.report(self.store, job.id, who=self.who.person))

    # ------------------------------------------------------------ others

    async def quarantine(self, _arg: str) -> str:
        root = self.settings.quarantine_dir
        found = await asyncio.to_thread(list_quarantine, root)
        if not self.who.person.admin:  # a person's own jobs' folders (``NNNNN-name``)
            sees = self.who.person.sees
            mine = {f"{j.id:05d}" for j in await self.store.list_jobs() if sees(j.account)}
            found = [f for f in found if _job_part(f[0], root) in mine]
        if not found:
            return "quarantine is empty"
        lines = [f"{code} {path.relative_to(root)}" for path, code in found[:LIST_MAX]]
        if len(found) > LIST_MAX:
            lines.append(f"… and {len(found) - LIST_MAX} more")
        return "\n".join(lines)

    async def cleanup(self, arg: str) -> str:
        asking.require_admin(self.who.person, "clean up the server's work folders")
        found = await cleanup.find(self.settings, self.store)
        if not found.inbox and not found.folders:
            return "nothing to clean up"
        what = (
            f"{len(found.inbox)} downloads of ended jobs and {len(found.folders)} work"
            f" folders, {render.size_text(found.bytes)}"
        )
        if arg.lower() != "yes":
            return (
                f"this deletes {what}; /retry of those jobs will not work after it.\n"
                "send /cleanup yes"
            )
        await cleanup.remove(self.store, found)
        return f"deleted {what}"

    # ----------------------------------------------------------- watches

    async def watch(self, arg: str) -> str:
        """``/watch SOURCE [to DEST] [every 1h] [then delete|move:DIR]``: as ``ferryman
        watch add`` (new entries only; the destination defaults to where the chat's files
        go; a folder only under ``watch.folders``)."""
        from ferryman.engine.ops.watch_admin import NewWatch, add_watch, every_text

        words = arg.split()
        if not words:
            return "send /watch SOURCE [to DEST] [every 1h]"
        source, options = words[0], words[1:]
        given: dict[str, str] = {}
        while options:
            if len(options) < 2 or options[0].lower() not in ("to", "every", "then"):
                return (
                    f"'{' '.join(options)}': say to DEST, every 1h or then delete"
                    " (/watch SOURCE [to DEST] [every 1h] [then delete|move:DIR])"
                )
            given[options[0].lower()] = options[1]
            options = options[2:]
        asked = NewWatch(
            source=source,
            to=await self.inbox.dest_for(self.who, given.get("to")),
            every=given.get("every", "1h"),
            then=given.get("then"),
        )
        watch, shown = await add_watch(
            self.store, self.settings, asked, who=self.who.person, resources=self.inbox.resources
        )
        return (
            f"watch {watch.id}: {shown} ({watch.kind}) → {shown_dest(watch.dest)}, every"
            f" {every_text(watch.every_seconds)}; new entries from now on become jobs"
            f" (/unwatch {watch.id} stops it)"
        )

    async def watches(self, _arg: str) -> str:
        from ferryman.engine.ops.watch_admin import every_text, list_views

        views = await list_views(self.store, self.who.person)
        if not views:
            return "no watches; add one with /watch SOURCE [to DEST] [every 1h]"
        lines = []
        for view in views[:LIST_MAX]:
            state = view["state"]
            if view["error"]:
                state += f" ({view['error']['code']})"
            lines.append(
                f"{view['id']} {view['source']} → {view['dest']}, every"
                f" {every_text(view['every_seconds'])}: {state}, {view['jobs_made']} jobs"
            )
        if len(views) > LIST_MAX:
            lines.append(f"… and {len(views) - LIST_MAX} more")
        return "\n".join(lines)

    async def unwatch(self, arg: str) -> str:
        from ferryman.engine.ops.watch_admin import remove_watch

        number = arg.strip().lstrip("#")
        if not number.isdigit():
            return "send /unwatch ID (/watches lists them)"
        await remove_watch(self.store, int(number), who=self.who.person)
        return f"watch {number} removed; the jobs it made stay"

    async def settings_cmd(self, arg: str) -> str:
        """Without KEY: the person's own settings, then the engine's (an administrator's);
        ``KEY VALUE``: a key of :data:`user_settings.CHOICES` is the person's, any other
        the engine's, an administrator's only."""
        key, _, value = arg.partition(" ")
        if key.lower() == "thumbnail" and not value.strip():
            path = await thumbnail.take(self.message, self.settings.data_dir, self.who.user_id)
            return await self.mine.change(self.who, "thumbnail", str(path), taken=True)
        if is_user_key(key.lower()) and value.strip():
            return await self.mine.change(self.who, key.lower(), value)
        if not key:
            person = not self.who.person.admin
            mine = await self.mine.show(self.who.user_id, self.inbox.default_dest, person=person)
            if not self.who.person.admin:
                return mine
            current = await runtime_config.effective_runtime(self.store, self.settings)
            described = {k: f.description for k, f in Settings.model_fields.items()}
            engine = render.engine_settings(current, described)
            return f"{mine}\n\nferryman's (for everyone):\n{engine}"
        if not value.strip():
            return "send /settings KEY VALUE"
        asking.require_admin(self.who.person, f"change {key}: it is ferryman's, for everyone")
        stored = await runtime_config.set_runtime(self.store, self.settings, key, value.strip())
        self.wake()
        return f"{key} = {stored} (the engine uses it within a second)"


def _job_part(path: Path, root: Path) -> str:
    """The job number a quarantined file's folder starts with (``00012-name``)."""
    return path.relative_to(root).parts[0].partition("-")[0]
