"""A pool of named accounts alone (a bot and a helper bot, each logged in with
``telegram login --as NAME``, no unnamed login) is served: `add --to telegram:@channel`
said "no Telegram session yet", though bot-only setups are common."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faketg.accounts import cap_mbit
from ferryman.errors import FerrymanError
from ferryman.sinks.telegram_kind import TelegramKind
from ferryman.telegram.accounts import account_names, session_of
from tests.support.telegram_pool import log_in_as
from tests.telegram.test_telegram_pool import Pool
from tests.telegram.test_telegram_pool_join import deliver


async def test_named_accounts_alone_are_the_pool(tmp_path: Path) -> None:
    w = Pool(tmp_path)
    try:  # nobody logged in: refused, as before
        TelegramKind().check_ready(w.settings, "@dest")
        raise AssertionError("a pool with no login was taken")
    except FerrymanError as exc:
        assert exc.code == "telegram.not_logged_in"
    await log_in_as(w.settings, w.server, w.bot1, "bot1")
    await log_in_as(w.settings, w.server, w.bot2, "bot2")
    assert not session_of(w.settings, w.settings.telegram.session).exists()
    assert account_names(w.settings) == ["bot1", "bot2"]
    TelegramKind().check_ready(w.settings, "@dest")  # taken: the named accounts serve
    for account in (w.bot1, w.bot2):
        cap_mbit(w.server, account, 100000)
    store = await w.store()
    engine = w.engine(store)
    running = asyncio.create_task(engine.run())
    try:
        sent = await deliver(w, store, "a", 12)
    finally:
        engine.stop()
        await running
        await store.close()
    assert sent and set(sent) <= {w.bot1.id, w.bot2.id}, sent
