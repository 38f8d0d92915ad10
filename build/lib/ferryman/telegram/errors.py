"""Telethon's exceptions as ferryman error codes, with the wait a server imposed.

Telegram names its errors (``FLOOD_WAIT_30``, ``CHAT_WRITE_FORBIDDEN``...); Telethon
turns them into classes. ferryman needs only a few families: waits to honour to the
second, auth problems a person must fix, requests to retry, media to route through a
fallback, and everything else refused for good.
"""

from __future__ import annotations

import asyncio

from telethon import errors as tg

from ferryman.errors import FerrymanError, ServerWait


class TelegramWait(ServerWait):
    """Telegram said: not before ``seconds`` from now (flood wait, slow mode)."""

    def __init__(self, code: str, message: str, seconds: int, *, premium: bool = False) -> None:
        super().__init__(code, message, seconds)
        self.premium = premium  # FLOOD_PREMIUM_WAIT: slow down this account's parallelism


_AUTH: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((tg.ApiIdInvalidError, tg.ApiIdPublishedFloodError), "telegram.api_id_invalid"),
    (
        (
            tg.UserDeactivatedBanError,
            tg.PhoneNumberBannedError,
            tg.UserDeactivatedError,
        ),
        "telegram.banned",
    ),
    ((tg.PhoneCodeInvalidError, tg.PhoneCodeEmptyError), "telegram.code_invalid"),
    ((tg.PhoneCodeExpiredError,), "telegram.code_expired"),
    ((tg.PasswordHashInvalidError,), "telegram.password_invalid"),
    ((tg.PhoneNumberInvalidError, tg.PhoneNumberUnoccupiedError), "telegram.phone_invalid"),
    ((tg.AccessTokenInvalidError, tg.AccessTokenExpiredError), "telegram.bot_token_invalid"),
    (
        (
            tg.AuthKeyUnregisteredError,
            tg.SessionRevokedError,
            tg.SessionExpiredError,
            tg.AuthKeyDuplicatedError,
        ),
        "telegram.session_revoked",
    ),
    (
        (
            tg.PeerIdInvalidError,
            tg.ChannelInvalidError,
            tg.ChannelPrivateError,
            tg.UsernameNotOccupiedError,
            tg.UsernameInvalidError,
            tg.ChatIdInvalidError,
            tg.TopicDeletedError,
        ),
        "telegram.peer_invalid",
    ),
    (
        (
            tg.ChatWriteForbiddenError,
            tg.ChatAdminRequiredError,
            tg.ChatSendMediaForbiddenError,
            tg.UserBannedInChannelError,
        ),
        "telegram.write_forbidden",
    ),
    (
        (
            tg.MediaInvalidError,
            tg.MediaEmptyError,
            tg.PhotoInvalidDimensionsError,
            tg.PhotoSaveFileInvalidError,
            tg.ImageProcessFailedError,
            tg.PhotoExtInvalidError,
            tg.PhotoInvalidError,
            tg.VideoContentTypeInvalidError,
            tg.MediaCaptionTooLongError,
        ),
        "telegram.media_rejected",
    ),
)


def from_telethon(exc: BaseException) -> FerrymanError:
    """The ferryman error for anything a Telethon call raised."""
    if isinstance(exc, FerrymanError):
        return exc
    if isinstance(exc, tg.FloodPremiumWaitError):
        return TelegramWait(
            "telegram.flood_wait",
            f"Telegram asked to wait {exc.seconds} s",
            exc.seconds,
            premium=True,
        )
    if isinstance(exc, tg.FloodWaitError | tg.FloodTestPhoneWaitError):
        return TelegramWait(
            "telegram.flood_wait", f"Telegram asked to wait {exc.seconds} s", exc.seconds
        )
    if isinstance(exc, tg.SlowModeWaitError):
        return TelegramWait(
            "telegram.slowmode_wait", f"slow mode: wait {exc.seconds} s", exc.seconds
        )
    for kinds, code in _AUTH:
        if isinstance(exc, kinds):
            return FerrymanError(code, _describe(exc))
    if isinstance(exc, tg.UnauthorizedError):
        return FerrymanError("telegram.session_revoked", _describe(exc))
    if isinstance(exc, tg.ServerError | tg.RpcCallFailError | tg.TimedOutError):
        return FerrymanError("telegram.server", _describe(exc))
    if isinstance(exc, tg.RPCError):
        if exc.code in (500, 503) or exc.code < 0:
            return FerrymanError("telegram.server", _describe(exc))
        return FerrymanError("telegram.rejected", _describe(exc))
    if isinstance(exc, ConnectionError | OSError | asyncio.TimeoutError):
        return FerrymanError("telegram.connection", f"{type(exc).__name__}: {exc}")
    return FerrymanError.internal(exc if isinstance(exc, Exception) else Exception(repr(exc)))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, tg.RPCError):  # Telethon's class name is Telegram's error name
        return f"{type(exc).__name__} ({exc.code}): {exc}"
    return str(exc)
