"""`telegram serve` with a pool of named accounts alone (each `telegram login --as NAME`):
it said "there is no Telegram session yet", though accounts were logged in. The chat is
answered through the own session: said so, naming the accounts that are there, and how
to log in the one that answers (without --as)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.telegram.serve import check_ready
from ferryman.telegram.account import Account, remember
from ferryman.telegram.accounts import session_of
from tests.support.telegram_helpers import tg_settings


def test_serve_with_named_accounts_alone_says_which_account_answers_the_chat(
    tmp_path: Path,
) -> None:
    settings = tg_settings(tmp_path)
    with pytest.raises(FerrymanError) as nobody:
        check_ready(settings)
    assert "no Telegram session yet" in nobody.value.message
    settings.telegram_dir.mkdir(parents=True, exist_ok=True)
    for name in ("bot1", "bot2"):
        session = session_of(settings, name)
        session.write_bytes(b"")
        remember(session, Account(premium=False, bot=True))
    with pytest.raises(FerrymanError) as named:
        check_ready(settings)
    said = named.value.message
    assert named.value.code == "telegram.not_logged_in"
    assert "no Telegram session yet" not in said and "(bot1, bot2) send albums" in said
    step = named.value.next_step
    assert "without --as" in step and "ferryman telegram login --bot" in step


def test_the_command_says_the_step_that_fits_not_the_generic_login(tmp_path: Path) -> None:
    settings = tg_settings(tmp_path)
    settings.telegram_dir.mkdir(parents=True, exist_ok=True)
    session = session_of(settings, "bot1")
    session.write_bytes(b"")
    remember(session, Account(premium=False, bot=True))
    env = {
        "FERRYMAN_TELEGRAM__API_ID": "1",
        "FERRYMAN_TELEGRAM__API_HASH": "0" * 32,
        "FERRYMAN_CONFIG": None,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    data = ["--data-dir", str(settings.data_dir)]
    done = CliRunner().invoke(app, [*data, "telegram", "serve"], env=env)
    assert done.exit_code == 4, done.output
    assert "(bot1) send albums" in done.stderr
    assert "without --as" in done.stderr.split("next: ", 1)[1], done.stderr
