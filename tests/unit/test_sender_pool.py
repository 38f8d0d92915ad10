"""The upload connections' pool (``telegram.pool.SenderPool``) closed while a request
waits on a connection being opened: the request ends ``telegram.connection``, never with
a sender that is gone (``None``: an ``AttributeError`` the upload mapped to
``engine.internal``, seen once under load in
``test_an_upload_running_when_its_uploader_closes_ends_and_dials_nothing_more``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ferryman.errors import FerrymanError
from ferryman.telegram.pool import SenderPool


class _Sender:
    def __init__(self) -> None:
        self.disconnected = False

    async def disconnect(self) -> None:  # at once: close() runs through in one step
        self.disconnected = True


class _Dialer:
    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.opened = 0

    async def open_sender(self, client: Any) -> _Sender:
        await self.go.wait()
        self.opened += 1
        return _Sender()


async def test_a_request_whose_connection_opened_as_the_pool_closed_ends_as_a_connection_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ferryman.telegram.pool.plain_parts", lambda sender: None)
    dialer = _Dialer()
    pool = SenderPool(object(), dialer, 2)
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)  # the request waits on the opening
    dialer.go.set()
    await asyncio.sleep(0)  # the opening ends; the request is woken only after this step
    await pool.close()  # ...in which the pool closes, whole, before the request runs on
    with pytest.raises(FerrymanError) as caught:
        await waiting
    assert caught.value.code == "telegram.connection"
    assert dialer.opened == 1
    with pytest.raises(FerrymanError):
        await pool.acquire()  # a closed pool dials nothing more
    assert dialer.opened == 1
