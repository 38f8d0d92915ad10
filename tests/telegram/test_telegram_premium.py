"""The account's own Premium flag sets Telegram's limits; ``telegram.premium`` overrides.

The real Telethon client logs in to the fake, which says (``User.premium``) whether the
account has Premium; the limits of a job added afterwards follow it: 4000 MiB files
and 2048-character captions with it, 2000 MiB and 1024 without, never for a bot. The
figures are those Telegram's client configuration says (``help.getAppConfig``), the
ones above while it says none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.client import FakeDialer
from ferryman.config import Settings
from ferryman.engine.plumbing.media_options import media_options
from ferryman.engine.read.prepare import prepare
from ferryman.engine.read.stage import Staged
from ferryman.media.plan import Plan
from ferryman.media.policy import MIB, TELEGRAM, TELEGRAM_PREMIUM
from ferryman.model import ItemState, MediaKind
from ferryman.sinks.builtin import default_sinks
from ferryman.telegram import app_config
from ferryman.telegram.account import PART_BYTES, Limits, limits_of
from ferryman.telegram.accounts import session_of
from ferryman.telegram.hub import TelegramHub
from ferryman.telegram.login import connect, disconnect, login_bot, login_user, logout, whoami
from tests.support.telegram_helpers import tg_settings

PHONE = "+15550001"
DECLARED = 2500 * 1000 * 1000  # 2.5 GB: over a free account's 2000 MiB, under 4000


class Code:
    def ask(self, question: str, *, secret: bool) -> str:
        return "12345"


def settings_with(tmp_path: Path, premium: bool | None = None) -> Settings:
    extra: dict[str, Any] = {} if premium is None else {"premium": premium}
    return tg_settings(tmp_path, telegram=extra)


async def log_in(settings: Settings, server: FakeTelegram, *, bot: bool = False) -> None:
    """As `ferryman telegram login`: a client of its own, disconnected after."""
    client = await connect(settings, FakeDialer(server))
    try:
        if bot:
            await login_bot(client, "42:bot-token")
        else:
            await login_user(client, Code(), PHONE)
    finally:
        await disconnect(client)


def policy(settings: Settings) -> Any:
    return default_sinks().policy(settings, "telegram:me")


def a_big_document(tmp_path: Path) -> Staged:
    """A 2.5 GB file that takes no disk: sparse, its hash given (no whole read)."""
    path = tmp_path / "backup.bin"
    with path.open("wb") as out:
        out.truncate(DECLARED)
    return Staged(path, DECLARED, "0" * 64, MediaKind.DOCUMENT)


@pytest.mark.parametrize("premium", [True, False])
async def test_the_accounts_own_flag_sets_the_limits(tmp_path: Path, premium: bool) -> None:
    server = FakeTelegram()
    server.add_user("Ann", username="ann", phone=PHONE, premium=premium)
    settings = settings_with(tmp_path)
    assert policy(settings) is TELEGRAM  # Telegram not asked yet: the free limits
    await log_in(settings, server)
    assert policy(settings) is (TELEGRAM_PREMIUM if premium else TELEGRAM)
    options = media_options(settings, "telegram:me", default_sinks())
    assert options.policy.caption_chars == (2048 if premium else 1024)
    assert options.policy.max_file_bytes == (4000 if premium else 2000) * MIB
    prepared = prepare(a_big_document(tmp_path), True, options)
    if premium:  # sent whole, as it is
        assert prepared.state is not ItemState.QUARANTINED
        assert prepared.plan is Plan.DOCUMENT and prepared.error is None
        assert prepared.parts == []
    else:  # over 2000 MiB as a file: refused with its reason, not sent to fail there
        assert prepared.state is ItemState.QUARANTINED
        assert prepared.error is not None and prepared.error.code == "media.over_limit"


async def test_a_bot_is_never_premium(tmp_path: Path) -> None:
    server = FakeTelegram()
    server.add_user("Bot", username="ann_bot", bot=True, premium=True, bot_token="42:bot-token")
    settings = settings_with(tmp_path)
    await log_in(settings, server, bot=True)
    assert policy(settings) is TELEGRAM


@pytest.mark.parametrize(("account", "setting"), [(True, False), (False, True)])
async def test_the_setting_overrides_the_flag(tmp_path: Path, account: bool, setting: bool) -> None:
    server = FakeTelegram()
    server.add_user("Ann", phone=PHONE, premium=account)
    await log_in(settings_with(tmp_path), server)
    forced = settings_with(tmp_path, premium=setting)
    assert policy(forced) is (TELEGRAM_PREMIUM if setting else TELEGRAM)


async def test_premium_bought_later_is_seen_as_serve_connects(tmp_path: Path) -> None:
    """The hub's login check (``serve``, a delivery) asks Telegram again."""
    server = FakeTelegram()
    ann = server.add_user("Ann", phone=PHONE, premium=False)
    settings = settings_with(tmp_path)
    await log_in(settings, server)
    assert policy(settings) is TELEGRAM
    ann.premium = True
    hub = TelegramHub(settings, FakeDialer(server))
    try:
        await hub.client()
    finally:
        await hub.close()
    assert policy(settings) is TELEGRAM_PREMIUM


async def test_logging_out_forgets_the_flag(tmp_path: Path) -> None:
    server = FakeTelegram()
    server.add_user("Ann", phone=PHONE, premium=True)
    settings = settings_with(tmp_path)
    client = await connect(settings, FakeDialer(server))
    try:
        await login_user(client, Code(), PHONE)
        assert (await whoami(client)).premium
        await logout(client)
    finally:
        await disconnect(client)
    assert policy(settings) is TELEGRAM


@pytest.mark.parametrize("premium", [True, False])
async def test_the_limits_are_those_telegram_says(tmp_path: Path, premium: bool) -> None:
    """Telegram changes its limits in its client configuration, not in ferryman: a job's
    follow what it told at the login (and keep them when it later says nothing)."""
    server = FakeTelegram()
    server.add_user("Ann", phone=PHONE, premium=premium)
    server.upload_parts, server.upload_parts_premium = 6000, 10000
    server.caption_limit, server.caption_limit_premium = 2000, 4000
    settings = settings_with(tmp_path)
    await log_in(settings, server)
    told = policy(settings)
    assert told.max_file_bytes == (10000 if premium else 6000) * PART_BYTES
    assert told.caption_chars == (4000 if premium else 2000)
    session = session_of(settings, settings.telegram.session)
    refused = server.inject(functions.help.GetAppConfigRequest, "METHOD_INVALID")
    await log_in(settings, server)  # asked again: refused, so the last told stay
    assert refused.hits == 1
    assert limits_of(session) == Limits(6000, 10000, 2000, 4000)
    assert policy(settings) == told


async def test_a_server_that_never_answers_leaves_the_login_done_and_the_limits_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeTelegram()
    server.add_user("Ann", phone=PHONE, premium=True)
    server.upload_parts_premium = 9000
    settings = settings_with(tmp_path)
    await log_in(settings, server)
    unanswered = server.hold(functions.help.GetAppConfigRequest)
    monkeypatch.setattr(app_config, "ASK_SECONDS", 0.05)  # not the 10 s a user would wait
    try:
        await log_in(settings, server)
    finally:
        unanswered.release()
    assert unanswered.held == 1
    assert (
        limits_of(session_of(settings, settings.telegram.session)).upload_max_fileparts_premium
        == 9000
    )
    assert policy(settings).max_file_bytes == 9000 * PART_BYTES


@pytest.mark.parametrize(
    ("config", "limits"),
    [
        ({}, Limits()),
        ({"upload_max_fileparts_default": 5000.0}, Limits(5000, 8000, 1024, 2048)),
        (
            {
                "upload_max_fileparts_default": True,  # not a number, as JSON says
                "upload_max_fileparts_premium": 2.5,
                "caption_length_limit_default": float("nan"),
                "caption_length_limit_premium": 0,
            },
            Limits(),
        ),
        ({"upload_max_fileparts_premium": "8000", "caption_length_limit_premium": 1e300}, Limits()),
    ],
)
def test_a_configuration_of_another_shape_keeps_the_limits_known(
    config: dict[str, Any], limits: Limits
) -> None:
    assert Limits().told(config) == limits
