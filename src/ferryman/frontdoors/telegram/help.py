"""The chat's command menu: each command with a short description and one example.

A bot registers the menu with Telegram at start (``bots.setBotCommands``), so the app
shows it behind the "/" button; ``/help`` shows the same list with the examples. A user
account has no menu (Telegram keeps one for bots only): ``/help`` is its menu.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telethon.tl import functions, types

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str  # what the app's menu shows (Telegram: 1 to 256 characters)
    example: str


MENU: tuple[Command, ...] = (
    Command("help", "what I do, the commands with an example each", "/help"),
    Command("status", "jobs and their progress", "/status"),
    Command("queue", "the jobs not ended, in the order they go", "/queue"),
    Command("pass", "give an archive its password", "/pass s3cret  or  /pass 4 s3cret"),
    Command("cancel", "stop a job (no number: the newest)", "/cancel 4"),
    Command("pause", "pause a job", "/pause 4"),
    Command("resume", "go on with a paused job", "/resume 4"),
    Command("retry", "run a failed or cancelled job again", "/retry 4"),
    Command("report", "what a job delivered, skipped, quarantined", "/report 4"),
    Command("quarantine", "files kept back, with the reason", "/quarantine"),
    Command("cleanup", "delete downloads of ended jobs (asks first)", "/cleanup"),
    Command("settings", "show or change your settings", "/settings link 720p"),
    Command("watch", "a feed, channel or folder: new entries become jobs", "/watch t.me/holidays"),
    Command("watches", "the watches", "/watches"),
    Command("unwatch", "stop a watch", "/unwatch 2"),
    Command("link", "link this chat to your account on the page", "/link 1a2b3c4d5e6f"),
)

INTRO = """Send me an archive, a media file or a link and I make it a job.
Caption: to: @channel, to: telegram:-100… or to: library: (where it goes);
force (take a file that came before once more); choose (pick an archive's files).
A link to a video (YouTube, X, TikTok… or any page with one) becomes an MP4 up to
1080p; beside it: 720p, 480p, best, mute, mp3 192 (or 320, 256, 128, 96), m4a, opus,
playlist, or preset:NAME (a preset's choices: built in mp3, 720p, best…, or yours)."""


def help_text(bot: bool) -> str:
    """``/help``: what the chat does, then each command with its example."""
    lines = [INTRO, ""]
    lines += [f"/{c.name}  {c.description}\n   e.g. {c.example}" for c in MENU]
    if not bot:
        lines += ["", "Where I offer choices, reply with the number of the one you want."]
    return "\n".join(lines)


async def register_menu(client: Any) -> None:
    """Put the menu in the bot's "/" button (a user account has none: not called).
    Not being able to is no reason not to serve: it is logged."""
    commands = [types.BotCommand(c.name, c.description) for c in MENU]
    request = functions.bots.SetBotCommandsRequest(types.BotCommandScopeDefault(), "", commands)
    try:
        await client(request)
    except Exception as exc:  # the chat works without its menu
        log.warning("the command menu could not be registered: %s", exc)
