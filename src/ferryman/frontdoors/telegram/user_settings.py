"""Each chat user's own settings: where their files go and what their links become.

One list, :data:`CHOICES`, says which settings there are, what each may be and what the
person reads; ``/settings`` shows it as text and ``/settings KEY VALUE`` changes one (a
rendering with buttons reads the same list). The values live in the store, one row per
key the person changed; the others are ferryman's defaults. They apply where the chat
door makes a job or a watch for that person: a caption's ``to:`` or ``720p`` still wins.
``send``, ``caption`` and ``thumbnail`` go with the job as its destination's options
(``?as=documents&caption=…&thumb=…``, ``sinks/options.py``), where its kind takes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

from ferryman.engine.ops import who as asking
from ferryman.errors import FerrymanError
from ferryman.links.profile import Profile, from_caption
from ferryman.resources import Shared
from ferryman.sinks.base import NO_OPTIONS, DeliveryOptions, Destination, SinkRegistry
from ferryman.sinks.link import KEPT_IN_TELEGRAM
from ferryman.sinks.options import split
from ferryman.sinks.telegram_people import MEMBERSHIP_SECONDS
from ferryman.store.ports import ChatSettings

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
            Option(KEPT_IN_TELEGRAM, "a download link, the file kept in Telegram"),
        ),
        "or a channel: @name or -100…; a forum group's -100…/topics: a topic per folder",
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
    Choice(
        "send",
        "how photos and videos go to Telegram",
        (
            Option("media", "as photos and videos"),
            Option("documents", "as files, unchanged"),
        ),
        "media or documents only",
    ),
    Choice(
        "caption",
        "the caption of your albums",
        (Option("{job_name} — {album}/{albums}", "the name, album of albums"),),
        "or a template using {job_name}, {album}, {albums}, {items},"
        " {taken}, {place}, {description}",
    ),
    Choice(
        "thumbnail",
        "the thumbnail your documents show in Telegram",
        (),
        "reply /settings thumbnail to a photo you sent",
    ),
)
_BY_KEY = {choice.key: choice for choice in CHOICES}
# Usual values a person (never an administrator) is not offered: they are refused them
# (``me``: the Saved Messages of the account ferryman runs as, ``sinks/telegram_people``).
ADMINS_ONLY: Mapping[str, tuple[str, ...]] = MappingProxyType({"to": ("me",)})
FORUMS_CHECKED = 8  # forum groups asked of Telegram for a person, per listing at most
CHECK_SECONDS = 10.0  # a listing's checks, at most: one not answered by then is not offered
LISTINGS_KEPT = 64  # people whose last listing of forum groups is kept


@dataclass(frozen=True, slots=True)
class Who:
    """Who sent a message, and in which chat (a private chat's id is the person's);
    ``person``: who that is to the engine (``ops/who``: a linked account, the
    machine's own user; by default nobody, who sees nothing)."""

    user_id: int
    chat_id: int
    person: asking.Who = asking.NOBODY


@dataclass(frozen=True, slots=True)
class Mine:
    """One person's settings as a job is made: None where the default holds."""

    dest: str | None = None
    profile: Profile | None = None
    options: DeliveryOptions = NO_OPTIONS  # send, caption, thumbnail


class UserSettings:
    def __init__(
        self,
        store: ChatSettings,
        sinks: SinkRegistry,
        allowed: tuple[str, ...] = (),
        resources: Shared | None = None,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.allowed = allowed  # places an administrator allowed (``ops/who.allowed_places``)
        self.resources = resources  # the engine's: its Telegram client asks whose a chat is
        # A person's last listing of forum groups, kept as long as a yes is believed
        # (``MEMBERSHIP_SECONDS``): /settings and each press on its buttons draw it again.
        self._listed: dict[tuple[int, tuple[int, ...]], tuple[float, list[tuple[int, str]]]] = {}

    async def of(self, user_id: int, chat_id: int) -> Mine:
        """``user_id``'s settings, ready for a job made from chat ``chat_id``."""
        stored = await self.store.user_settings(user_id)
        to, link = stored.get("to"), stored.get("link")
        return Mine(
            dest=self._dest(to, chat_id) if to else None,
            profile=from_caption(link) if link else None,
            options=DeliveryOptions(
                as_documents=stored.get("send") == "documents",
                caption=stored.get("caption"),
                thumb=stored.get("thumbnail"),
            ),
        )

    def with_options(self, dest: str, options: DeliveryOptions) -> str:
        """``dest`` (made canonical) carrying the person's ``options`` its kind takes;
        options ``dest`` names itself win (``sink.unknown`` for a bad ``dest``)."""
        found = self.sinks.parse(self.sinks.expand(dest))
        takes, own = self.sinks.kind(found.text).takes, found.options
        if own.thumb is not None and own.thumb != options.thumb:  # a path of the server
            raise FerrymanError(
                "sink.unknown",
                "a thumbnail is chosen by replying /settings thumbnail to a photo,"
                " not by naming a file in a destination",
            )
        return Destination(
            found.scheme,
            found.target,
            DeliveryOptions(
                as_documents=own.as_documents or (options.as_documents and "as" in takes),
                caption=own.caption or (options.caption if "caption" in takes else None),
                thumb=own.thumb or (options.thumb if "thumb" in takes else None),
            ),
        ).text

    def _dest(self, to: str, chat_id: int) -> str:
        return f"telegram:{chat_id}" if to == "here" else self.sinks.expand(to)

    async def own_forums(
        self, who: Who, forums: Sequence[tuple[int, str]], keep: int
    ) -> list[tuple[int, str]]:
        """Of ``forums`` (id, title: those the server's account is in), the first
        ``keep`` that are ``who``'s to send to: all for an administrator; for a person,
        the first ``FORUMS_CHECKED`` asked of Telegram at once as any ``to`` of theirs
        is (``ops/who.own_place``: their linked account is a member), each once, for
        ``CHECK_SECONDS`` at most; the listing kept for ``MEMBERSHIP_SECONDS`` on the
        engine's clock (a press on its buttons draws it again, nothing asked). A
        stranger never sees the names of the operator's groups; the chat's other
        messages wait on the checks that long at most."""
        if who.person.admin:
            return list(forums[:keep])
        asked = list(dict.fromkeys(forums))[:FORUMS_CHECKED]  # each forum asked once
        key = (who.user_id, tuple(channel_id for channel_id, _ in asked))
        clock = self.resources.clock if self.resources is not None else None
        at, kept = self._listed.get(key, (None, []))
        if clock is not None and at is not None and clock.monotonic() - at < MEMBERSHIP_SECONDS:
            return kept[:keep]
        found, whole = await self._own_forums(who, asked)
        if clock is not None and whole:  # one not answered in time: asked again next time
            self._listed.pop(key, None)
            self._listed[key] = (clock.monotonic(), found)
            while len(self._listed) > LISTINGS_KEPT:
                del self._listed[next(iter(self._listed))]
        return found[:keep]

    async def _own_forums(
        self, who: Who, asked: list[tuple[int, str]]
    ) -> tuple[list[tuple[int, str]], bool]:
        """Those of ``asked`` that are ``who``'s, asked at once, ``CHECK_SECONDS`` at
        most; and whether every check was answered by then."""

        async def theirs(channel_id: int) -> bool:
            dest = f"telegram:-100{channel_id}"
            try:
                await asking.own_place(who.person, self.sinks, dest, self.allowed, self.resources)
            except FerrymanError:
                return False
            return True

        checks = [asyncio.ensure_future(theirs(channel_id)) for channel_id, _ in asked]
        if not checks:
            return [], True
        _, late = await asyncio.wait(checks, timeout=CHECK_SECONDS)
        for check in late:
            check.cancel()  # not answered in time: not offered this time
        answered = [_yes(check) for check in checks]
        return [forum for forum, ok in zip(asked, answered, strict=True) if ok], not late

    async def show(self, user_id: int, default_dest: str, *, person: bool = False) -> str:
        """``/settings``: each setting, its value, its options (a ``person``'s without
        those refused them, ``ADMINS_ONLY``)."""
        stored = await self.store.user_settings(user_id)
        defaults = {
            "to": _dest_words(default_dest, self.sinks),
            "link": "1080p",
            "send": "media",
            "caption": "ferryman's caption_template",
            "thumbnail": "none",
        }
        lines = ["your settings:"]
        for choice in CHOICES:
            value = stored.get(choice.key)
            now = value if value is not None else f"{defaults[choice.key]} (default)"
            hidden = ADMINS_ONLY.get(choice.key, ()) if person else ()
            options = [option.value for option in choice.options if option.value not in hidden]
            lines.append(f"{choice.key} = {now}: {choice.label}")
            lines.append("  " + ", ".join([*options, choice.typed]))
        lines.append("change one: /settings KEY VALUE (VALUE default: back to the default)")
        return "\n".join(lines)

    async def change(self, who: Who, key: str, value: str, *, taken: bool = False) -> str:
        """``/settings KEY VALUE`` for one of :data:`CHOICES`, ``who``'s own; refuses
        what is not one, and a ``to`` that is not a place of theirs (``ops/who``).
        ``taken``: a thumbnail's picture, saved by the door (``thumbnail.take``)."""
        user_id = who.user_id
        choice = _BY_KEY[key]
        value = value if taken else " ".join(value.split())
        if value.lower() == DEFAULT:
            await self.store.user_setting_put(user_id, key, None)
            return f"{key} is back to the default"
        if key == "to" and value != "here":
            self.with_options(value, DeliveryOptions())  # sink.unknown: says why
            expanded = self.sinks.expand(value)
            await asking.own_place(who.person, self.sinks, expanded, self.allowed, self.resources)
        if key == "link" and from_caption(value) is None:
            raise FerrymanError(
                "config.invalid",
                f"'{value}' is not a link output; {choice.typed.removeprefix('or ')}",
            )
        if key == "send" and value not in ("media", "documents"):
            raise FerrymanError("config.invalid", f"send is media or documents, not '{value}'")
        if key == "caption":
            try:
                split("telegram:me?caption=" + quote(value, safe=""))
            except FerrymanError as exc:
                raise FerrymanError("config.invalid", exc.message) from None
        if key == "thumbnail" and not taken:
            raise FerrymanError("config.invalid", f"thumbnail: {choice.typed}")
        await self.store.user_setting_put(user_id, key, value)
        return f"{key} = {value}: {choice.label}; it applies to what you send from now on"


def _yes(check: asyncio.Future[bool]) -> bool:
    """A check's yes; one not done, or failed another way (the network), is a no."""
    return check.done() and not check.cancelled() and check.exception() is None and check.result()


def is_user_key(key: str) -> bool:
    return key in _BY_KEY


def _dest_words(dest: str, sinks: SinkRegistry) -> str:
    """As the ``to`` option's label says it ("the library folder"), else the kind's words."""
    return "the library folder" if dest.startswith("library:") else sinks.words(dest)
