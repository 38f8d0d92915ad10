"""An upload's parts go out while the session's login is still being checked.

The check (``users.getUsers`` on the connected client) costs a round trip; parts post
nothing, so they need not wait for it. Anything that posts does, and a session that is
not logged in still fails with the check's own error.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.client import FakeDialer
from faketg.server import Call
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.telegram.client import make_client
from ferryman.telegram.hub import TelegramHub
from ferryman.telegram.login import open_session
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.waiting import eventually
from tests.telegram.test_telegram_lone_document import documents, pdf
from tests.telegram.test_telegram_sink import World

CHECK = functions.users.GetUsersRequest
PARTS = (functions.upload.SaveFilePartRequest, functions.upload.SaveBigFilePartRequest)


async def keep_update_state(w: World) -> None:
    """The session as ``ferryman telegram login`` leaves it, with the account's update
    state: without it, Telethon's own connect asks who the account is (getMe) before it
    returns, a round trip of its own in front of everything."""
    w.server.box("user", w.me.id).pts = 1000  # a fresh fake account is at pts 0: no state
    client = make_client(w.settings, FakeDialer(w.server))
    await client.connect()
    await client.disconnect()


async def test_the_first_part_reaches_telegram_before_the_login_check_answers(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    await keep_update_state(w)
    folder, digest = pdf(tmp_path / "in", 2 * 1024 * 1024)
    # The login check is answered only once a part has been handled (or after 30 s, when
    # the parts wait for the check: then they come after it and the test fails). A fixed
    # 0.5 s delay on the answer was too short where a loaded machine read and sent the
    # first part more than 0.5 s after asking.
    check = w.server.handlers[CHECK]
    a_part = asyncio.Event()

    async def answered_after_a_part(server: FakeTelegram, call: Call, req: Any) -> Any:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await a_part.wait()
        return await check(server, call, req)

    w.server.handlers[CHECK] = answered_after_a_part
    handled: list[str] = []

    def seen(_call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, (CHECK, *PARTS, functions.messages.SendMediaRequest)):
            handled.append(type(request).__name__)
        if isinstance(request, PARTS):
            a_part.set()

    w.server.after_handle.append(seen)
    store = await w.store()
    await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert documents(w) == [digest]
    # Before: the check's answer, then the parts. Now the parts overlap it; the send
    # still comes after it.
    assert handled.index("SaveFilePartRequest") < handled.index("GetUsersRequest"), handled
    assert handled.index("GetUsersRequest") < handled.index("SendMediaRequest"), handled
    await store.close()


async def test_a_revoked_session_fails_with_the_checks_error_and_is_not_kept(
    tmp_path: Path,
) -> None:
    server = FakeTelegram()
    ann = server.add_user("Ann", username="ann", phone="+1555")
    settings = tg_settings(tmp_path)
    await log_in(settings, server, ann)
    server.revoke(ann)
    with pytest.raises(FerrymanError) as said:  # what the login check says on its own
        await open_session(settings, FakeDialer(server))
    hub = TelegramHub(settings, FakeDialer(server))
    try:
        client, login = await hub.connecting()
        assert client.is_connected()
        with pytest.raises(FerrymanError) as caught:
            await hub.client()
        assert caught.value.code == said.value.code == "telegram.not_logged_in"
        assert login.done()
        # Let go: the next use connects and checks anew, and says the same.
        again, login_again = await hub.connecting()
        assert again is not client and login_again is not login
        with pytest.raises(FerrymanError) as caught:
            await hub.client()
        assert caught.value.code == said.value.code
    finally:
        await hub.close()


async def test_a_warm_up_opens_the_upload_connections_beside_the_clients_own(
    tmp_path: Path,
) -> None:
    """Their handshakes need only the session's key: they do not wait for the client's
    own connection (its first request's round trip) before they begin."""
    server = FakeTelegram()
    ann = server.add_user("Ann", username="ann", phone="+1555")
    settings = tg_settings(tmp_path)
    await log_in(settings, server, ann)
    dialer = FakeDialer(server)
    config = server.handlers[functions.help.GetConfigRequest]
    opened_before: list[int] = []

    async def answered_once_a_lane_is_open(server_: FakeTelegram, call: Call, req: Any) -> Any:
        if not opened_before:  # the hub's client connecting (later ones go at once)
            with contextlib.suppress(AssertionError):  # before: none opens until answered
                await eventually(lambda: dialer.opened, "an upload connection", within=10)
            opened_before.append(dialer.opened)
        return await config(server_, call, req)

    server.handlers[functions.help.GetConfigRequest] = answered_once_a_lane_is_open
    hub = TelegramHub(settings, dialer)
    try:
        hub.warm()
        lanes = settings.telegram.upload_connections
        await eventually(lambda: dialer.opened >= lanes, "the upload connections open")
        await hub.client()  # logged in, as before
        assert opened_before and opened_before[0] > 0
    finally:
        await hub.close()


async def test_a_big_files_parts_go_while_the_client_is_still_connecting(
    tmp_path: Path,
) -> None:
    """The upload connections a warm-up opened carry a file's parts before the client's
    own first request (``help.getConfig``) is answered: a round trip less before the
    first part (0.1 s here) at every start."""
    w = await World.logged_in(tmp_path, send_documents=True)
    await keep_update_state(w)
    folder, digest = pdf(tmp_path / "in", 17 * 1024 * 1024)  # uploaded once linked
    config = w.server.handlers[functions.help.GetConfigRequest]
    a_part = asyncio.Event()
    handled: list[str] = []

    async def answered_after_a_part(server: FakeTelegram, call: Call, req: Any) -> Any:
        if "GetConfigRequest" not in handled:  # the client's own first request
            with contextlib.suppress(TimeoutError):  # before: no part until it is answered
                async with asyncio.timeout(30):
                    await a_part.wait()
        return await config(server, call, req)

    def seen(_call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, (functions.help.GetConfigRequest, *PARTS)):
            handled.append(type(request).__name__)
        if isinstance(request, PARTS):
            a_part.set()

    w.server.handlers[functions.help.GetConfigRequest] = answered_after_a_part
    w.server.after_handle.append(seen)
    store = await w.store()
    await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert documents(w) == [digest]
    assert handled.index("SaveBigFilePartRequest") < handled.index("GetConfigRequest"), handled
    await store.close()
