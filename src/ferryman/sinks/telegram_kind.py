"""The ``telegram:`` destination kind: chats, Telegram's media policy, albums of ten.

Light on purpose: parsing a chat, the policy and the readiness check run when a job is
added (and in ``--help``), so Telethon is imported only when a sink is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.media.policy import TELEGRAM, TELEGRAM_PREMIUM, Policy
from ferryman.model import MediaKind
from ferryman.resources import Shared
from ferryman.sinks.base import Sink, SinkEnv, SinkKind
from ferryman.telegram.account import has_premium

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.telegram.hub import TelegramHub

ALBUM_MAX = 10  # messages.sendMultiMedia takes at most ten


@dataclass(frozen=True, slots=True)
class TelegramTarget:
    """A chat: ``me``, ``@username`` or a numeric id; ``topic`` for a forum's topic."""

    chat: str | int
    topic: int | None = None


_TELEGRAM = re.compile(
    r"^(me|@?[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})(?:/topic/([0-9]{1,12}))?$"
)


def telegram_target(target: str) -> TelegramTarget:
    match = _TELEGRAM.fullmatch(target.strip())
    if match is None:
        raise FerrymanError(
            "sink.unknown",
            f"telegram destination '{target}' is not a chat: {_why_not(target.strip())};"
            " use telegram:me, telegram:@name, telegram:-100… or telegram:-100…/topic/ID",
        )
    chat, topic = match.group(1), match.group(2)
    value: str | int
    if chat == "me":
        value = "me"
    elif chat.lstrip("-").isdigit():
        value = int(chat)
    else:
        value = "@" + chat.lstrip("@")
    return TelegramTarget(value, int(topic) if topic else None)


def _why_not(target: str) -> str:
    """What is wrong with a destination that names no chat, in a person's words."""
    chat, _, topic = target.partition("/")
    if topic and not re.fullmatch(r"topic/[0-9]{1,12}", topic):
        return "a forum topic is written /topic/ID, with the topic's number"
    name = chat.removeprefix("@")
    if not name:
        return "it names no chat"
    if re.fullmatch(r"-?[0-9]+", name):
        return "a chat id has at most 20 digits"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return "a username has only letters, digits and underscores"
    if not name[0].isalpha():
        return "a username starts with a letter"
    if len(name) < 4:
        return (
            f"a username has 5 to 32 characters (4 for a few bought ones), '{name}' has {len(name)}"
        )
    return f"a username has at most 32 characters, '{name}' has {len(name)}"


def session_file(settings: Settings) -> Path:
    """Where ``ferryman telegram login`` keeps the session (looked at, never created)."""
    return settings.telegram_dir / f"{settings.telegram.session}.session"


def telegram_hub(resources: Shared) -> TelegramHub:
    """The engine's one Telegram client and uploader, opened on first use and closed
    with the engine; the chat front door uses it too, so both share one login."""
    from ferryman.telegram.hub import shared_hub

    return shared_hub(resources)


class TelegramKind(SinkKind):
    """``telegram:me``, ``telegram:@name``, ``telegram:-100…[/topic/ID]``."""

    scheme = "telegram"
    description = "telegram:me, telegram:@name, telegram:-100… or telegram:-100…/topic/ID"
    client_target: str | None = "me"
    album_max: int | None = ALBUM_MAX
    # Its sink reads every file whole as it uploads it (``TelegramSink``): a big entry
    # is staged unhashed and hashed by that read.
    hashes_as_it_reads: bool = True
    # A streamed read waits at two albums: one being sent, one being filled (the
    # uplink is usually the slower link; more only fills the phone's disk).
    backlog_albums: int | None = 2
    takes: frozenset[str] = frozenset({"as", "caption", "thumb"})
    # The media tools its sink uses for videos (PyAV: 50-100 ms, on the engine's loop
    # and claims while it loads); a document's thumbnail is made on a thread as it goes.
    uses: tuple[str, ...] = (
        "ferryman.media.probe",
        "ferryman.media.thumbnail",
        "ferryman.media.cover",
    )
    uses_for: frozenset[MediaKind] | None = frozenset({MediaKind.VIDEO})

    def parse(self, target: str) -> str:
        telegram_target(target)  # refuse a malformed chat now, not at delivery
        return target

    def words(self, target: str) -> str:
        chat, _, topic = target.partition("/topic/")
        said = "Saved Messages in Telegram" if chat == "me" else f"the Telegram chat {chat}"
        return f"{said}, topic {topic}" if topic else said

    def shorthand(self, value: str) -> str | None:
        """``@name``, ``-100…`` and ``me`` (a forum topic may follow) are chats."""
        chat = value.split("/", 1)[0]
        if chat.startswith("@") or chat == "me" or chat.lstrip("-").isdigit():
            return f"{self.scheme}:{value}"
        return None

    def policy(self, settings: Settings) -> Policy:
        """Premium's limits when the account has it (as Telegram last said, beside the
        session: ``telegram/account``) or ``telegram.premium`` says so."""
        premium = has_premium(session_file(settings), settings.telegram.premium)
        return TELEGRAM_PREMIUM if premium else TELEGRAM

    def check_ready(self, settings: Settings, target: str) -> None:
        tg = settings.telegram
        if tg.api_id is None or not tg.api_hash:
            raise FerrymanError(
                "telegram.not_configured",
                f"cannot send to telegram:{target}: telegram.api_id and telegram.api_hash"
                " are not set; nothing was added",
            )
        if not session_file(settings).exists():
            raise FerrymanError(
                "telegram.not_logged_in",
                f"cannot send to telegram:{target}: there is no Telegram session yet (run"
                " `ferryman telegram login`); nothing was added",
            )

    def open(self, target: str, env: SinkEnv) -> Sink:
        from ferryman.sinks.telegram import TelegramSink
        from ferryman.sinks.telegram_state import TelegramState

        hub = telegram_hub(env.resources)
        hub.keep_uploads(env.state)  # big uploads resume after a crash
        return TelegramSink(
            hub,
            TelegramState(env.state),
            telegram_target(target),
            caption_limit=env.policy.caption_chars,
            clock=env.state.now,
            document_thumb=Path(env.options.thumb) if env.options.thumb else None,
        )
