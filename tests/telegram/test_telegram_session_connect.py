"""Connecting a saved session writes nothing to its file that it did not change.

Telethon stored again, at every connect, the key it had just read from the session: a
delete, an insert and a commit (a rollback journal and its fsyncs), on the event loop,
before the client's first request. A login still stores its new key (``log_in`` here
saves it through the same session class).
"""

from __future__ import annotations

import threading
from pathlib import Path

from faketg import FakeTelegram
from faketg.client import FakeDialer
from ferryman.telegram.client import make_client
from ferryman.telegram.login import current_login, disconnect
from tests.support.telegram_helpers import log_in, tg_settings


async def test_a_connect_does_not_store_the_key_it_read_again(tmp_path: Path) -> None:
    server = FakeTelegram()
    ann = server.add_user("Ann", username="ann", phone="+1555")
    settings = tg_settings(tmp_path)
    await log_in(settings, server, ann)
    client = make_client(settings, FakeDialer(server))
    statements: list[str] = []
    client.session._conn.set_trace_callback(statements.append)
    try:
        await client.connect()
        me = await current_login(client)  # the key read is the one that works
    finally:
        await client.disconnect()

    assert me is not None and me.id == ann.id
    writes = [s.split()[0] for s in statements if "into sessions" in s or "from sessions" in s]
    assert writes == []  # before: a delete and an insert (the key, again)


async def test_the_sessions_commit_at_a_disconnect_is_made_on_a_thread(tmp_path: Path) -> None:
    """Telethon writes the update state as it disconnects, then commits and closes the
    file: a journal and its fsyncs, on the event loop (5-80 ms at a run's end)."""
    server = FakeTelegram()
    ann = server.add_user("Ann", username="ann", phone="+1555")
    settings = tg_settings(tmp_path)
    await log_in(settings, server, ann)
    client = make_client(settings, FakeDialer(server))
    commits: list[str] = []

    def traced(statement: str) -> None:
        if statement.strip().upper().startswith("COMMIT"):
            commits.append(threading.current_thread().name)

    await client.connect()
    client.session._conn.set_trace_callback(traced)
    await disconnect(client)

    assert commits and threading.main_thread().name not in commits, commits  # before: on it
    again = make_client(settings, FakeDialer(server))  # the file is whole, logged in
    try:
        await again.connect()
        me = await current_login(again)
    finally:
        await disconnect(again)
    assert me is not None and me.id == ann.id
