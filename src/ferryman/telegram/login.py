"""Logging in to Telegram, and opening the session a login left behind.

A user logs in with a code Telegram sends to their other devices, then the two-step
verification password if they set one; a bot logs in with its token. Either way the
result is a Telethon SQLite session holding the account's auth key, so the file is made
owner-only again once Telethon has written it. Every Telethon error leaves this module
as a ferryman error code, so the CLI (and later the chat) can say what to do next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from telethon import TelegramClient
from telethon import errors as tg
from telethon.tl import functions, types

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.telegram.account import Account, forget, limits_of, remember
from ferryman.telegram.app_config import ask_limits
from ferryman.telegram.client import (
    Dialer,
    Session,
    make_client,
    secure_session_file,
    session_path,
)
from ferryman.telegram.errors import from_telethon

ATTEMPTS = 3  # a mistyped code or password is asked again, this many tries in all

T = TypeVar("T")


class Prompter(Protocol):
    """Asks a person something (the terminal, or a test's script of answers)."""

    def ask(self, question: str, *, secret: bool) -> str: ...


@dataclass(frozen=True, slots=True)
class Me:
    """Who the session is logged in as."""

    id: int
    name: str
    username: str | None
    bot: bool
    premium: bool
    phone: str | None

    def describe(self) -> str:
        handle = f" (@{self.username})" if self.username else ""
        kind = "bot" if self.bot else "user" + (", premium" if self.premium else "")
        return f"{self.name}{handle}, id {self.id}, {kind}"


@contextlib.contextmanager
def _telegram_errors() -> Iterator[None]:
    """Whatever Telethon raises inside becomes the matching FerrymanError."""
    try:
        yield
    except FerrymanError:
        raise
    except Exception as exc:
        raise from_telethon(exc) from exc


async def ask(prompter: Prompter, question: str, *, secret: bool) -> str:
    """Ask a person, off the event loop, on a daemon thread.

    The client's connection keeps being served while a person types; and a daemon
    thread, unlike ``asyncio.to_thread``'s pool, does not keep Ctrl-C waiting for input.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(result: str | None, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or "")

    def work() -> None:
        try:
            result = prompter.ask(question, secret=secret)
        except BaseException as exc:  # Abort, EOF, a test's error: hand it to the caller
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="ferryman-prompt", daemon=True).start()
    return (await answer).strip()


def _me(user: Any) -> Me:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return Me(
        id=int(user.id),
        name=name or str(user.id),
        username=user.username,
        bot=bool(user.bot),
        premium=bool(user.premium),
        phone=f"+{user.phone}" if user.phone and not user.phone.startswith("+") else user.phone,
    )


def _secure(client: TelegramClient) -> None:
    """Commit the session and make it owner-only again, after Telethon wrote it."""
    session = client.session
    if session is None:  # logged out: the file is gone
        return
    session.save()
    filename = getattr(session, "filename", None)
    if filename and filename != ":memory:":
        path = Path(filename)
        secure_session_file(path)
        os.chmod(path.parent, 0o700)  # ferryman's own sessions folder


# ------------------------------------------------------------------ connecting


async def connect(
    settings: Settings, dialer: Dialer, prepare: Callable[[TelegramClient], None] | None = None
) -> TelegramClient:
    """A connected client for the configured session, logged in or not; ``prepare``
    runs before it connects (event handlers that must see the caught-up messages)."""
    client = make_client(settings, dialer)
    if prepare is not None:
        prepare(client)
    try:
        with _telegram_errors():
            await client.connect()
    except BaseException:
        await disconnect(client)
        raise
    _secure(client)
    return client


async def disconnect(client: TelegramClient) -> None:
    """Disconnect (Telethon saves the session then, committed here on a thread: not
    on the event loop) and keep the file private."""
    session = client.session
    later = isinstance(session, Session)
    if later:
        session.closing_later = True
    try:
        with contextlib.suppress(Exception):  # already gone: nothing to hand back
            await client.disconnect()
    finally:
        if later:
            session.closing_later = False
            await asyncio.to_thread(session.close_now)
    _secure(client)


async def open_session(
    settings: Settings, dialer: Dialer, prepare: Callable[[TelegramClient], None] | None = None
) -> TelegramClient:
    """A connected client of an account that is logged in, or a clear reason why not."""
    client = await connect_session(settings, dialer, prepare)
    await require_login(client)
    return client


async def connect_session(
    settings: Settings, dialer: Dialer, prepare: Callable[[TelegramClient], None] | None = None
) -> TelegramClient:
    """The session a login left, connected; whether it is still logged in is for
    :func:`require_login` to say (a request's round trip more)."""
    tg_settings = settings.telegram
    configured = tg_settings.api_id is not None and tg_settings.api_hash  # else make_client says
    if configured and not session_path(settings).exists():
        raise FerrymanError("telegram.not_logged_in", "there is no Telegram session yet")
    return await connect(settings, dialer, prepare)


async def require_login(client: TelegramClient) -> None:
    """The connected client is logged in, or it is disconnected and the reason raised."""
    try:
        await _require_login(client)
    except BaseException:
        await disconnect(client)
        raise


async def _require_login(client: TelegramClient) -> None:
    try:
        await whoami(client)
    except FerrymanError as error:
        if error.code == "telegram.session_revoked" and not _had_login(client):
            raise FerrymanError(
                "telegram.not_logged_in", "the session never finished a login"
            ) from error
        raise


def _had_login(client: TelegramClient) -> bool:
    """Telethon's session remembers its own user (as entity 0) once it was logged in."""
    try:
        client.session.get_input_entity(0)
    except ValueError:
        return False
    return True


async def current_login(client: TelegramClient) -> Me | None:
    """Who the connected client is logged in as; None if nobody (or the key was revoked)."""
    try:
        return await whoami(client)
    except FerrymanError as exc:
        if exc.code == "telegram.session_revoked":
            return None
        raise


# --------------------------------------------------------------------- login


async def login_user(client: TelegramClient, prompter: Prompter, phone: str | None) -> Me:
    """Phone, then the code Telegram sends, then the 2FA password if the account has one."""
    if not phone:
        phone = await ask(prompter, "Phone number (with country code, e.g. +44…)", secret=False)
    if not phone:
        raise FerrymanError("telegram.phone_invalid", "no phone number given")
    with _telegram_errors():
        await client.send_code_request(phone)
    if await _enter_code(client, prompter, phone):
        await _enter_password(client, prompter)
    _secure(client)
    return await whoami(client)


async def _enter_code(client: TelegramClient, prompter: Prompter, phone: str) -> bool:
    """Sign in with the code; True when the account then wants its 2FA password."""

    async def sign_in(code: str) -> bool:
        try:
            await client.sign_in(phone, code)
        except tg.SessionPasswordNeededError:  # a 401, but not a revoked session
            return True
        return False

    question = "Login code (Telegram sent it to your other devices)"
    return await _until_right(prompter, question, "code", "telegram.code_invalid", sign_in)


async def _enter_password(client: TelegramClient, prompter: Prompter) -> None:
    async def sign_in(password: str) -> None:
        await client.sign_in(password=password)

    question = "Two-step verification password"
    await _until_right(
        prompter, question, "password", "telegram.password_invalid", sign_in, secret=True
    )


async def _until_right(
    prompter: Prompter,
    question: str,
    what: str,
    wrong: str,
    attempt: Callable[[str], Awaitable[T]],
    *,
    secret: bool = False,
) -> T:
    """Ask and ``attempt`` the answer; an answer Telegram calls ``wrong`` is asked again."""
    for tries in range(1, ATTEMPTS + 1):
        answer = await ask(prompter, question, secret=secret)
        try:
            if not answer:
                raise FerrymanError(wrong, f"no {what} given")
            with _telegram_errors():
                return await attempt(answer)
        except FerrymanError as error:
            if error.code != wrong or tries == ATTEMPTS:
                raise
            question = f"Wrong {what}; try again ({tries + 1} of {ATTEMPTS})"
    raise AssertionError("unreachable")  # the last try returns or raises


async def login_bot(client: TelegramClient, token: str) -> Me:
    """Log in as the bot @BotFather gave this token to."""
    token = token.strip()
    if not token:
        raise FerrymanError("telegram.bot_token_invalid", "no bot token given")
    with _telegram_errors():
        await client.sign_in(bot_token=token)
    _secure(client)
    return await whoami(client)


async def whoami(client: TelegramClient) -> Me:
    """Ask Telegram who this session is (not a cached answer: a revoked key shows here)."""
    with _telegram_errors():
        users = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    if not users or isinstance(users[0], types.UserEmpty):
        raise FerrymanError("telegram.not_logged_in", "Telegram does not know this session")
    me = _me(users[0])
    await _remember(client, me)
    return me


async def _remember(client: TelegramClient, me: Me) -> None:
    """Keep the account's flags, and Telegram's limits as it tells them now, beside its
    session file: the limits of the jobs added later follow them (``telegram/account``).
    An in-memory session keeps nothing."""
    filename = getattr(client.session, "filename", None)
    if filename and filename != ":memory:":
        session = Path(filename)
        known = await asyncio.to_thread(limits_of, session)
        account = Account(premium=me.premium, bot=me.bot, limits=await ask_limits(client, known))
        await asyncio.to_thread(remember, session, account)


async def logout(client: TelegramClient) -> bool:
    """End the session at Telegram and delete the session file here.

    True if Telegram confirmed. The file goes either way: a session Telegram already
    ended (revoked elsewhere) is of no use, and keeping its key helps nobody.
    """
    filename = getattr(client.session, "filename", None)
    if filename and filename != ":memory:":  # the account's flags go with its session
        await asyncio.to_thread(forget, Path(filename))
    with _telegram_errors():
        confirmed = bool(await client.log_out())  # deletes the file when confirmed
    if not confirmed:
        session = client.session
        await disconnect(client)
        if session is not None:
            session.delete()
        client.session = None  # as Telethon's own log_out: nothing may write it again
    return confirmed
