"""SIGKILL the engine mid-job to ``link:telegram``: each file is kept in Telegram exactly
once, by the Telegram sink's own machinery (its send records under ``random_id``s),
and the job's links then name each of those messages.

The child engine and the fake over TCP are ``test_telegram_crash``'s; the files go as
documents to the account's Saved Messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg.server import Call
from faketg.state import StoredMessage
from ferryman.sinks.telegram_files import telegram_files
from ferryman.store import Store
from tests.crash.test_telegram_crash import Killer, World, nth
from tests.support.telegram_helpers import media_kind


class LinkWorld(World):
    """The crash tests' world, its job bound for ``link:telegram``."""

    dest = "link:telegram"

    def chat(self) -> list[StoredMessage]:
        return self.server.chat(self.me)  # Saved Messages


@pytest.mark.slow
async def test_sigkill_between_the_send_and_its_record_keeps_each_file_once(
    tmp_path: Path,
) -> None:
    w = LinkWorld(tmp_path)
    await w.start()
    sends: list[list[int]] = []

    def record(call: Call, request: Any, result: Any) -> None:
        if isinstance(request, functions.messages.SendMultiMediaRequest):
            sends.append([m.random_id for m in request.multi_media])

    w.server.after_handle.append(record)
    try:
        await Killer(w.server, nth(functions.messages.SendMultiMediaRequest, 1)).run(w)
        posted = w.chat()
        assert 0 < len(posted) < len(w.inputs), w.evidence()
        await w.finish()
    finally:
        await w.close()
    await w.assert_every_photo_once()  # once each, its bytes, the store naming each
    assert {media_kind(m) for m in w.chat()} == {"document"}
    assert [s for s in sends if s == sends[0]] == [sends[0], sends[0]]  # repeated, not new
    store = await Store.open(w.settings.database)
    try:
        kept = await telegram_files(store.sink_state("telegram"), w.job_id)
    finally:
        await store.close()
    assert sorted(f.name for f in kept) == sorted(w.inputs)
    assert {f.message_id for f in kept} == {m.id for m in w.chat()}  # a link to each
