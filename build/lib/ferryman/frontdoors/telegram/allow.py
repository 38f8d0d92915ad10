"""Who may use the front door: the configured user IDs and @usernames, as IDs.

Usernames are resolved once at start (a username can change hands; the ID cannot).
Everyone else is ignored without an answer, so the account gives nothing away, and is
logged once per sender so the log is not a flood channel either.
"""

from __future__ import annotations

import logging
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.telegram.errors import from_telethon

log = logging.getLogger(__name__)


class AllowList:
    def __init__(self, ids: set[int]) -> None:
        self.ids = frozenset(ids)
        self._stranger_logged: set[int] = set()

    @classmethod
    async def resolve(cls, client: Any, entries: list[str]) -> AllowList:
        """IDs as given; ``@name`` (or ``name``) looked up through Telegram."""
        ids: set[int] = set()
        for raw in entries:
            entry = raw.strip()
            if entry.lstrip("-").isdigit():
                ids.add(int(entry))
                continue
            try:
                entity = await client.get_entity(entry if entry.startswith("@") else "@" + entry)
            except Exception as exc:
                error = from_telethon(exc)
                raise FerrymanError(
                    "config.invalid",
                    f"telegram.allow_users: '{entry}' could not be resolved ({error.message})",
                ) from exc
            ids.add(int(entity.id))
        if not ids:
            log.warning("telegram.allow_users is empty: the chat front door answers nobody")
        return cls(ids)

    def allows(self, sender_id: int | None) -> bool:
        if sender_id is not None and sender_id in self.ids:
            return True
        key = sender_id or 0
        if key not in self._stranger_logged:
            self._stranger_logged.add(key)
            log.warning("ignoring messages from %s: not in telegram.allow_users", sender_id)
        return False
