"""Each chat user's own settings: where their files go and what their links become.

One list, :data:`CHOICES`, says which settings there are, what each may be and what the
person reads; ``/settings`` shows it as text and ``/settings KEY VALUE`` changes one (a
rendering with buttons reads the same list). The values live in the store, one row per
key the person changed; the others are ferryman's defaults. They apply where the chat
door makes a job or a watch for that person: a caption's ``to:`` or ``720p`` still wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.errors import FerrymanError
from ferryman.links.profile import Profile, from_caption
from ferryman.sinks.base import SinkRegistry
from ferryman.store import Store

DEFAULT = "default"  # a value that puts a setting back to ferryman's default


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Choice:
    """One setting: its key, what it means, the usual values (others may be typed)."""

    key: str
    label: str
    options: tuple[Option, ...]
    typed: str  # what else may be given, in words


CHOICES: tuple[Choice, ...] = (
    Choice(
        "to",
        "where your files and links go",
        (
            Option("here", "this chat"),
            Option("me", "Saved Messages (of the account ferryman runs as)"),
            Option("library:", "the library folder"),
        ),
        "or a channel: @name or -100…",
    ),
    Choice(
        "link",
        "what a link to a video becomes",
        (
            Option("1080p", "video up to 1080p"),
            Option("720p", "video up to 720p"),
            Option("mp3 192", "audio, MP3 192 kbit/s"),
        ),
        "or any caption word: 480p, best, mute, m4a, opus, mp3 320…",
    ),
)
_BY_KEY = {choice.key: choice for choice in CHOICES}


@dataclass(frozen=True, slots=True)
class Who:
    """Who sent a message, and in which chat (a private chat's id is the person's)."""

    user_id: int
    chat_id: int


@dataclass(frozen=True, slots=True)
class Mine:
    """One person's settings as a job is made: None where the default holds."""

    dest: str | None = None
    profile: Profile | None = None


class UserSettings:
    def __init__(self, store: Store, sinks: SinkRegistry) -> None:
        self.store = store
        self.sinks = sinks

    async def of(self, user_id: int, chat_id: int) -> Mine:
        """``user_id``'s settings, ready for a job made from chat ``chat_id``."""
        stored = await self.store.user_settings(user_id)
        to, link = stored.get("to"), stored.get("link")
        return Mine(
            dest=self._dest(to, chat_id) if to else None,
            profile=from_caption(link) if link else None,
        )

    def _dest(self, to: str, chat_id: int) -> str:
        return f"telegram:{chat_id}" if to == "here" else self.sinks.expand(to)

    async def show(self, user_id: int, default_dest: str) -> str:
        """``/settings``: each setting, its value, its options."""
        stored = await self.store.user_settings(user_id)
        defaults = {"to": _dest_words(default_dest), "link": "1080p"}
        lines = ["your settings:"]
        for choice in CHOICES:
            value = stored.get(choice.key)
            now = value if value is not None else f"{defaults[choice.key]} (default)"
            options = ", ".join(option.value for option in choice.options)
            lines.append(f"{choice.key} = {now}: {choice.label}")
            lines.append(f"  {options}, {choice.typed}")
        lines.append("change one: /settings KEY VALUE (VALUE default: back to the default)")
        return "\n".join(lines)

    async def change(self, user_id: int, key: str, value: str) -> str:
        """``/settings KEY VALUE`` for one of :data:`CHOICES`; refuses what is not one."""
        choice = _BY_KEY[key]
        value = " ".join(value.split())
        if value.lower() == DEFAULT:
            await self.store.user_setting_put(user_id, key, None)
            return f"{key} is back to the default"
        if key == "to" and value != "here":
            self.sinks.parse(self.sinks.expand(value))  # sink.unknown: says why
        if key == "link" and from_caption(value) is None:
            raise FerrymanError(
                "config.invalid",
                f"'{value}' is not a link output; {choice.typed.removeprefix('or ')}",
            )
        await self.store.user_setting_put(user_id, key, value)
        return f"{key} = {value}: {choice.label}; it applies to what you send from now on"


def is_user_key(key: str) -> bool:
    return key in _BY_KEY


def _dest_words(dest: str) -> str:
    return "the library folder" if dest.startswith("library:") else dest
