"""Logging in to Telegram against the fake: the real Telethon client, a real session file.

Codes, two-step verification (the fake verifies the SRP proof), bot tokens, and what
opening the session later says when it was revoked, banned or logged out.
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from faketg import FakeTelegram
from faketg.client import FakeDialer
from faketg.handlers.auth import auth_state
from faketg.state import Account
from ferryman.config import Settings, load_settings
from ferryman.errors import FerrymanError, spec_for
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.cli.telegram import Wiring, telegram_app
from ferryman.telegram.client import session_path
from ferryman.telegram.login import (
    connect,
    disconnect,
    login_bot,
    login_user,
    logout,
    open_session,
    whoami,
)
from tests.support.telegram_helpers import tg_settings

PHONE = "+15550001"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Script:
    """A prompter that answers from a list and remembers what it was asked."""

    def __init__(self, *answers: str, on_ask: Callable[[], None] | None = None) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, bool]] = []
        self.on_ask = on_ask

    def ask(self, question: str, *, secret: bool) -> str:
        self.asked.append((question, secret))
        if self.on_ask is not None:
            self.on_ask()
        assert self.answers, f"asked more than scripted: {question}"
        return self.answers.pop(0)


def make_settings(tmp_path: Path, **telegram: Any) -> Settings:
    return tg_settings(tmp_path, telegram=telegram)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> FakeTelegram:
    return FakeTelegram(clock=clock)


@pytest.fixture
def ann(server: FakeTelegram) -> Account:
    return server.add_user("Ann", username="ann", phone=PHONE, premium=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def client(settings: Settings, server: FakeTelegram) -> AsyncIterator[Any]:
    opened = await connect(settings, FakeDialer(server))
    try:
        yield opened
    finally:
        await disconnect(opened)


def owner(server: FakeTelegram, client: Any) -> int | None:
    """Which account the fake has bound this client's auth key to."""
    return server.keys.get(client.session.auth_key.key_id)


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


async def raises(code: str, work: Any) -> FerrymanError:
    with pytest.raises(FerrymanError) as caught:
        await work
    assert caught.value.code == code, caught.value
    return caught.value


async def logged_in(settings: Settings, server: FakeTelegram, answers: list[str]) -> None:
    """Log in through a client of its own and disconnect it, as `ferryman telegram login`."""
    client = await connect(settings, FakeDialer(server))
    try:
        await login_user(client, Script(*answers), PHONE)
    finally:
        await disconnect(client)


# ---------------------------------------------------------------- user login


async def test_user_logs_in_with_the_code(server: FakeTelegram, ann: Account, client: Any) -> None:
    script = Script("12345")
    me = await login_user(client, script, "+1 555 0001")
    assert (me.id, me.name, me.username, me.bot, me.premium) == (ann.id, "Ann", "ann", False, True)
    assert me.phone == PHONE
    assert owner(server, client) == ann.id
    assert script.asked == [("Login code (Telegram sent it to your other devices)", False)]


async def test_phone_is_asked_when_not_given(
    server: FakeTelegram, ann: Account, client: Any
) -> None:
    script = Script(PHONE, "12345")
    await login_user(client, script, None)
    assert script.asked[0][0].startswith("Phone number")
    assert owner(server, client) == ann.id


async def test_wrong_code_is_asked_again(server: FakeTelegram, ann: Account, client: Any) -> None:
    script = Script("11111", "12345")
    me = await login_user(client, script, PHONE)
    assert me.id == ann.id
    assert script.asked[1] == ("Wrong code; try again (2 of 3)", False)
    assert server.stats.requests["SignInRequest"] == 2


async def test_three_wrong_codes_fail(server: FakeTelegram, ann: Account, client: Any) -> None:
    script = Script("11111", "22222", "")
    await raises("telegram.code_invalid", login_user(client, script, PHONE))
    assert len(script.asked) == 3
    assert owner(server, client) is None


async def test_expired_code(server: FakeTelegram, ann: Account, client: Any, clock: Clock) -> None:
    auth_state(server).code_ttl = 60

    def person_is_slow() -> None:
        clock.now += 61

    slow = Script("12345", on_ask=person_is_slow)
    await raises("telegram.code_expired", login_user(client, slow, PHONE))
    assert owner(server, client) is None


async def test_unknown_phone(server: FakeTelegram, ann: Account, client: Any) -> None:
    await raises("telegram.phone_invalid", login_user(client, Script(), "+19990000"))


# ---------------------------------------------------------------------- 2FA


async def test_two_step_password(server: FakeTelegram, client: Any) -> None:
    bob = server.add_user("Bob", phone=PHONE, password="correct horse")
    script = Script("12345", "correct horse")
    me = await login_user(client, script, PHONE)
    assert me.id == bob.id
    assert owner(server, client) == bob.id
    assert script.asked[1] == ("Two-step verification password", True)
    assert server.stats.requests["CheckPasswordRequest"] == 1


async def test_wrong_password_then_right(server: FakeTelegram, client: Any) -> None:
    bob = server.add_user("Bob", phone=PHONE, password="correct horse")
    script = Script("12345", "correct hose", "correct horse")
    await login_user(client, script, PHONE)
    assert owner(server, client) == bob.id
    assert script.asked[2] == ("Wrong password; try again (2 of 3)", True)
    assert server.stats.requests["CheckPasswordRequest"] == 2


async def test_three_wrong_passwords_fail(server: FakeTelegram, client: Any) -> None:
    server.add_user("Bob", phone=PHONE, password="correct horse")
    script = Script("12345", "a", "b", "c")
    await raises("telegram.password_invalid", login_user(client, script, PHONE))
    assert server.stats.requests["CheckPasswordRequest"] == 3
    assert owner(server, client) is None


async def test_fake_rejects_a_replayed_proof(server: FakeTelegram, client: Any) -> None:
    """The SRP proof is bound to one B: replaying it with a new srp_id fails."""
    from telethon import errors as tg
    from telethon.password import compute_check
    from telethon.tl import functions

    server.add_user("Bob", phone=PHONE, password="pw")
    await client.send_code_request(PHONE)
    with pytest.raises(tg.SessionPasswordNeededError):
        await client.sign_in(PHONE, "12345")
    first = compute_check(await client(functions.account.GetPasswordRequest()), "pw")
    second = await client(functions.account.GetPasswordRequest())
    first.srp_id = second.srp_id
    with pytest.raises(tg.PasswordHashInvalidError):
        await client(functions.auth.CheckPasswordRequest(first))
    assert owner(server, client) is None


# ---------------------------------------------------------------------- bots


async def test_bot_token(server: FakeTelegram, client: Any) -> None:
    bot = server.add_user("Ferry", username="ferry_bot", bot=True, bot_token="123:abc")
    me = await login_bot(client, "123:abc")
    assert (me.id, me.bot, me.username) == (bot.id, True, "ferry_bot")
    assert owner(server, client) == bot.id


async def test_bad_bot_token(server: FakeTelegram, client: Any) -> None:
    server.add_user("Ferry", bot=True, bot_token="123:abc")
    await raises("telegram.bot_token_invalid", login_bot(client, "123:abd"))
    assert owner(server, client) is None


# --------------------------------------------------------------- api id/hash


async def test_wrong_api_id(tmp_path: Path, server: FakeTelegram, ann: Account) -> None:
    settings = make_settings(tmp_path, api_id=999)
    await raises("telegram.api_id_invalid", connect(settings, FakeDialer(server)))


async def test_wrong_api_hash(tmp_path: Path, server: FakeTelegram, ann: Account) -> None:
    client = await connect(make_settings(tmp_path, api_hash="nothash"), FakeDialer(server))
    try:
        await raises("telegram.api_id_invalid", login_user(client, Script("12345"), PHONE))
    finally:
        await disconnect(client)


# ------------------------------------------------------------------ sessions


async def test_session_file_is_private(
    settings: Settings, server: FakeTelegram, ann: Account
) -> None:
    path = session_path(settings)
    client = await connect(settings, FakeDialer(server))
    try:
        path.chmod(0o644)  # as if made under a loose umask, or copied
        path.parent.chmod(0o755)
        await login_user(client, Script("12345"), PHONE)
    finally:
        await disconnect(client)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_open_session_reuses_the_login(
    settings: Settings, server: FakeTelegram, ann: Account
) -> None:
    await logged_in(settings, server, ["12345"])
    codes_sent = server.stats.requests["SendCodeRequest"]
    client = await open_session(settings, FakeDialer(server))
    try:
        assert (await whoami(client)).id == ann.id
    finally:
        await disconnect(client)
    assert server.stats.requests["SendCodeRequest"] == codes_sent == 1
    assert server.stats.requests["SignInRequest"] == 1


async def test_no_session_is_not_logged_in(settings: Settings, server: FakeTelegram) -> None:
    await raises("telegram.not_logged_in", open_session(settings, FakeDialer(server)))
    assert server.stats.requests == {}  # decided without a connection


async def test_unfinished_login_is_not_logged_in(
    settings: Settings, server: FakeTelegram, ann: Account
) -> None:
    client = await connect(settings, FakeDialer(server))
    await client.send_code_request(PHONE)  # the person never typed the code
    await disconnect(client)
    await raises("telegram.not_logged_in", open_session(settings, FakeDialer(server)))


async def test_revoked_session(settings: Settings, server: FakeTelegram, ann: Account) -> None:
    await logged_in(settings, server, ["12345"])
    server.revoke(ann)
    await raises("telegram.session_revoked", open_session(settings, FakeDialer(server)))


async def test_banned_account(settings: Settings, server: FakeTelegram, ann: Account) -> None:
    await logged_in(settings, server, ["12345"])
    ann.banned = True
    await raises("telegram.banned", open_session(settings, FakeDialer(server)))


async def test_banned_number_cannot_log_in(server: FakeTelegram, ann: Account, client: Any) -> None:
    ann.banned = True
    await raises("telegram.banned", login_user(client, Script("12345"), PHONE))


async def test_logout_ends_the_session(
    settings: Settings, server: FakeTelegram, ann: Account
) -> None:
    await logged_in(settings, server, ["12345"])
    client = await open_session(settings, FakeDialer(server))
    key = client.session.auth_key.key_id
    try:
        assert await logout(client) is True
    finally:
        await disconnect(client)
    assert key not in server.keys
    assert not session_path(settings).exists()
    await raises("telegram.not_logged_in", open_session(settings, FakeDialer(server)))


async def test_logout_of_a_revoked_session_deletes_it(
    settings: Settings, server: FakeTelegram, ann: Account
) -> None:
    await logged_in(settings, server, ["12345"])
    server.revoke(ann)
    client = await connect(settings, FakeDialer(server))
    try:
        assert await logout(client) is False
    finally:
        await disconnect(client)
    assert not session_path(settings).exists()


# ----------------------------------------------------------------------- CLI


def test_cli_login_whoami_logout(tmp_path: Path, server: FakeTelegram, ann: Account) -> None:
    ann.password = "pw"
    wiring = Wiring(make_settings(tmp_path), FakeDialer(server))
    runner = CliRunner()

    done = runner.invoke(telegram_app, ["login"], input=f"{PHONE}\n12345\npw\n", obj=wiring)
    assert done.exit_code == 0, done.output
    assert "pw" not in done.output.replace("Two-step verification password:", "")
    assert f"logged in as Ann (@ann), id {ann.id}, user, premium" in done.output

    done = runner.invoke(telegram_app, ["whoami"], obj=wiring)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"Ann (@ann), id {ann.id}, user, premium",
        f"phone {PHONE}",
        "sends files up to 4,000 MiB, captions up to 2,048 characters (as Telegram says)",
    ]

    done = runner.invoke(telegram_app, ["login"], obj=wiring)
    assert done.exit_code == 0 and "already logged in as Ann" in done.output

    done = runner.invoke(telegram_app, ["logout"], obj=wiring)
    assert done.exit_code == 0 and "logged out" in done.output

    done = runner.invoke(telegram_app, ["whoami"], obj=wiring)
    assert done.exit_code == 4  # not logged in: the set-up
    assert "telegram.not_logged_in" in done.output
    # The step for an account, not the code's for the jobs that stopped (`retry JOB`).
    assert "next: Log in first: `ferryman telegram login`" in flat(done.output)
    assert "retry JOB" not in done.output


def test_cli_bot_login_from_settings(tmp_path: Path, server: FakeTelegram) -> None:
    bot = server.add_user("Ferry", username="ferry_bot", bot=True, bot_token="123:abc")
    wiring = Wiring(make_settings(tmp_path, bot_token="123:abc"), FakeDialer(server))
    done = CliRunner().invoke(telegram_app, ["login"], obj=wiring)
    assert done.exit_code == 0, done.output
    assert f"logged in as Ferry (@ferry_bot), id {bot.id}, bot" in done.output


def test_cli_bad_bot_token_says_what_next(tmp_path: Path, server: FakeTelegram) -> None:
    server.add_user("Ferry", bot=True, bot_token="123:abc")
    wiring = Wiring(make_settings(tmp_path), FakeDialer(server))
    done = CliRunner().invoke(telegram_app, ["login", "--bot"], input="nope\n", obj=wiring)
    assert done.exit_code == 1
    assert "telegram.bot_token_invalid" in done.output
    assert spec_for("telegram.bot_token_invalid").next_step in flat(done.output)


def test_telegram_commands_are_registered(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "telegram", "--help"])
    assert done.exit_code == 0
    assert all(name in done.output for name in ("login", "whoami", "logout"))


def test_cli_needs_api_credentials(tmp_path: Path, server: FakeTelegram) -> None:
    bare = load_settings(None, {"data_dir": tmp_path / "data"})
    done = CliRunner().invoke(telegram_app, ["whoami"], obj=Wiring(bare, FakeDialer(server)))
    assert done.exit_code == 4  # the set-up: exit codes, docs/cli.md
    assert "telegram.not_configured" in done.output
