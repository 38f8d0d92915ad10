"""An in-memory store: the engine's stages' ports (``store/ports``) on plain dicts.

For tests of the engine and the front doors (the web's, ``WebDoor``) that need no
database, and as the claims' and leases' meaning written once more without SQL (the
store's contract tests run it beside SQLite and PostgreSQL: ``tests/store/``). Rows
are dicts with the schema's columns, so the same converters (``shared/rows``), the
same insert of a job (``new_job``) and the same rules (``rules``) serve it. Each
method runs without an ``await`` inside: on one event loop it is one transaction. It
is an ``EngineStore`` (mypy checks it below), so the whole engine runs a job on it
(``tests/unit/test_engine_on_memory.py``). Not kept: waited time (the SQL stores' own;
see the skip reasons in the contract tests).

Each aggregate's part sits beside its SQL: rows, claims and leases in ``base``,
then albums and items, watches, notices, the chat, nodes and the runner's reads, jobs
and fetches, each a class on the one before; this one adds the runtime settings.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ferryman.store.accounts.memory import MemoryAccounts
from ferryman.store.fetches.memory import MemoryFetches

if TYPE_CHECKING:
    from ferryman.store.engine_store import EngineStore
    from ferryman.store.ports import (
        ChatDoor,
        ChatInbox,
        ChatSettings,
        Control,
        ConvertStore,
        DeliverStore,
        FetchStore,
        Intake,
        NoticeStore,
        ReadStore,
        RuntimeSettings,
        StatusDoor,
        WatchAdmin,
        WatchStore,
        WebDoor,
    )


class MemoryStore(MemoryFetches, MemoryAccounts):
    """The whole memory store: every part, and the settings changed at run time."""

    async def runtime_settings(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self.settings.items()}

    async def set_runtime_setting(self, key: str, value: Any) -> None:
        self.settings[key] = json.dumps(value)

    async def clear_runtime_setting(self, key: str) -> None:
        self.settings.pop(key, None)


if TYPE_CHECKING:  # mypy proves the memory store is each of these stages' stores
    _ONE = MemoryStore()
    _STAGES: tuple[FetchStore, ReadStore, ConvertStore, DeliverStore, WatchStore, NoticeStore]
    _STAGES = (_ONE, _ONE, _ONE, _ONE, _ONE, _ONE)
    _DOORS: tuple[Control, Intake, WatchAdmin, RuntimeSettings, ChatInbox, ChatSettings]
    _DOORS = (_ONE, _ONE, _ONE, _ONE, _ONE, _ONE)
    _ENGINE: EngineStore = _ONE  # the runner and every stage, end to end
    _WEB: WebDoor = _ONE  # the web app and its page
    _CHAT: ChatDoor = _ONE  # the chat door
    _STATUS: StatusDoor = _ONE  # ``ferryman status`` and the other commands' reads
