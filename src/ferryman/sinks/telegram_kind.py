"""The ``telegram:`` destination kind: chats, Telegram's media policy, albums of ten.

Light on purpose: parsing a chat, the policy and the readiness check run when a job is
added (and in ``--help``), so Telethon is imported only when a sink is opened.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.media.policy import TELEGRAM, TELEGRAM_PREMIUM, Policy
from ferryman.model import MediaKind
from ferryman.resources import Shared
from ferryman.sinks.base import Sink, SinkEnv, SinkKind
from ferryman.sinks.telegram_target import ALBUM_MAX, FORMS, telegram_target

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.telegram.accounts import AccountPool
    from ferryman.telegram.hub import TelegramHub


def session_file(settings: Settings) -> Path:
    """Where ``ferryman telegram login`` keeps the session (looked at, never created)."""
    return settings.telegram_dir / f"{settings.telegram.session}.session"


def telegram_hub(resources: Shared) -> TelegramHub:
    """The engine's own account's client and uploader, opened on first use and closed
    with the engine; the chat front door uses it too, so both share one login."""
    from ferryman.telegram.hub import shared_hub

    return shared_hub(resources)


def telegram_accounts(resources: Shared) -> AccountPool:
    """The engine's accounts (``telegram/accounts``), each with its client and uploader
    opened on first use and closed with the engine; the own account's hub is the one
    the chat front door uses too, so both share one login."""
    from ferryman.telegram.accounts import account_pool

    return account_pool(resources)


# An input refused when added: nothing was recorded, so no job waits for a `retry`.
LOG_IN_FIRST = (
    "Log in first: `ferryman telegram login` (a user by phone, a bot with --bot; one more"
    " account of a pool with --as NAME), then add it again."
)


def telegram_ready(settings: Settings, doing: str) -> None:
    """Refuse now what could not reach Telegram (no API id, no login): ``doing`` is
    what was asked, in the person's words ("send to telegram:@chan")."""
    tg = settings.telegram
    if tg.api_id is None or not tg.api_hash:
        raise FerrymanError(
            "telegram.not_configured",
            f"cannot {doing}: telegram.api_id and telegram.api_hash are not set; nothing was added",
        )
    from ferryman.telegram.accounts import logged_in  # lazy: the pool's module

    if not logged_in(settings):  # the own session, or named accounts alone
        raise FerrymanError(
            "telegram.not_logged_in",
            f"cannot {doing}: no Telegram account is logged in here; nothing was added",
            step=LOG_IN_FIRST,
        )


class TelegramKind(SinkKind):
    """``telegram:me``, ``telegram:@name``, ``telegram:-100…[/topic/ID|/topics]``."""

    scheme = "telegram"
    description = FORMS
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
        if target.endswith("/topics"):
            return f"the Telegram forum {target.removesuffix('/topics')}, a topic per folder"
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
        """Premium's limits when an account of the pool has it (as Telegram last said,
        beside its session: ``telegram/account``) or ``telegram.premium`` says so: a file
        a free account may not send goes whole through the Premium one, not split. The
        figures are Telegram's as it last told them (its client configuration)."""
        from ferryman.telegram.accounts import any_premium, told_limits  # lazy: asyncio

        premium = any_premium(settings)
        base = TELEGRAM_PREMIUM if premium else TELEGRAM
        limits = told_limits(settings)
        told = (limits.file_bytes(premium), limits.caption_chars(premium))
        if told == (base.max_file_bytes, base.caption_chars):
            return base
        return replace(base, max_file_bytes=told[0], caption_chars=told[1])

    def check_ready(self, settings: Settings, target: str) -> None:
        telegram_ready(settings, f"send to telegram:{target}")

    async def check_person(self, target: str, linked: int | None, resources: Shared | None) -> None:
        """A person's chat: their own, a group they are in, a channel they post in
        (``sinks/telegram_people``); never ``me``, nor another's private chat."""
        from ferryman.sinks.telegram_people import check_person  # lazy: Telethon

        await check_person(target, linked, resources)

    def open(self, target: str, env: SinkEnv) -> Sink:
        from ferryman.sinks.telegram import TelegramSink
        from ferryman.sinks.telegram_state import TelegramState

        accounts = telegram_accounts(env.resources)
        accounts.refresh()  # a login (or logout) since the last job: it joins (leaves) now
        for member in accounts.members:  # big uploads resume after a crash, per account
            member.hub.keep_uploads(env.state)
        return TelegramSink(
            accounts,
            TelegramState(env.state),
            telegram_target(target),
            caption_limit=env.policy.caption_chars,
            clock=env.state.now,
            document_thumb=Path(env.options.thumb) if env.options.thumb else None,
            index=env.settings.telegram.index,
        )
