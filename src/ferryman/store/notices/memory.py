"""The memory store's notices' outbox (``store/memory``): what ``store/notices`` does in
SQL, on dicts. The event rows are written where the state change happens (``event`` in
``memory/base``); here the notifier makes them into notices, claims the due ones with a
lease (a job's end with the others to the same URL within the digest's window), and
records each delivery sent, failed or given up."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ferryman.store.memory.base import Row
from ferryman.store.notices.sql import EVENT_URL, FAILED, QUEUED, SENDING, SENT, Notice
from ferryman.store.watches.memory import MemoryWatches


def _notice(row: Row) -> Notice:
    return Notice(
        id=row["id"],
        kind=row["kind"],
        url=row["url"],
        job_id=row["job_id"],
        watch_id=row["watch_id"],
        digest=bool(row["digest"]),
        payload=json.loads(row["payload"]),
        state=row["state"],
        attempts=row["attempts"],
        error_message=row["error_message"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
    )


class MemoryNotices(MemoryWatches):
    """The outbox: event rows (``url`` empty) made into one notice per target URL."""

    def _rows(self) -> list[Row]:
        return [row for _, row in sorted(self.tables["notices"].items())]

    def _insert_notices(
        self,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        job_id: int | None,
        watch_id: int | None,
        digest: bool,
        delay: float,
    ) -> list[int]:
        now = self.clock()
        return [
            self.insert(
                "notices",
                {
                    "kind": kind,
                    "url": url,
                    "job_id": job_id,
                    "watch_id": watch_id,
                    "digest": 1 if digest else 0,
                    "payload": json.dumps(payload),
                    "state": QUEUED,
                    "priority": 0,
                    "created_at": now,
                    "attempts": 0,
                    "not_before": now + delay,
                },
            )
            for url in urls
        ]

    async def add_notices(
        self,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        job_id: int | None = None,
        watch_id: int | None = None,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int]:
        return self._insert_notices(kind, urls, payload, job_id, watch_id, digest, delay)

    async def notice_events(self, limit: int = 100) -> list[Notice]:
        found = [r for r in self._rows() if r["state"] == QUEUED and r["url"] == EVENT_URL]
        return [_notice(row) for row in found[:limit]]

    async def prepare_event(
        self,
        event_id: int,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int] | None:
        row = self.tables["notices"].get(event_id)
        if row is None or row["url"] != EVENT_URL:
            return None  # another notifier prepared it first
        del self.tables["notices"][event_id]
        return self._insert_notices(
            kind, urls, payload, row["job_id"], row["watch_id"], digest, delay
        )

    async def drop_events(self, event_ids: Sequence[int]) -> int:
        gone = [i for i in event_ids if self.tables["notices"].get(i, {}).get("url") == EVENT_URL]
        for event_id in gone:
            del self.tables["notices"][event_id]
        return len(gone)

    async def claim_notices(
        self, owner: str, lease_seconds: float, digest_seconds: float
    ) -> list[Notice]:
        now = self.clock()
        first = self.claim("notices", QUEUED, SENDING, owner, lease_seconds,
                           lambda row: row["url"] != EVENT_URL, now)  # fmt: skip
        if first is None:
            return []
        claimed = [first]
        if first["digest"] and digest_seconds > 0:
            for row in self._rows():
                if (
                    row["state"] == QUEUED
                    and row["digest"] == 1
                    and row["url"] == first["url"]
                    and row["not_before"] <= now + digest_seconds
                ):
                    row |= {"state": SENDING, "owner": owner, "lease_until": now + lease_seconds}
                    claimed.append(row)
        return sorted((_notice(row) for row in claimed), key=lambda n: n.id)

    def _held(self, ids: Sequence[int], owner: str) -> list[Row]:
        rows = (self.tables["notices"].get(i) for i in ids)
        return [row for row in rows if row is not None and row["owner"] == owner]

    async def notices_sent(self, ids: Sequence[int], owner: str) -> None:
        for row in self._held(ids, owner):
            row |= {"state": SENT, "sent_at": self.clock(), "owner": None, "lease_until": None}

    async def notices_failed(
        self,
        ids: Sequence[int],
        owner: str,
        message: str,
        delay: float,
        *,
        give_up: bool,
        count: bool = True,
    ) -> None:
        for row in self._held(ids, owner):
            row |= {"state": FAILED if give_up else QUEUED, "owner": None, "lease_until": None}
            row["not_before"] = self.clock() + delay
            if count:
                row |= {"error_message": message[:2000], "attempts": row["attempts"] + 1}

    async def notices_due_now(self, within: float) -> int:
        now, moved = self.clock(), 0
        for row in self.tables["notices"].values():
            if (
                row["state"] == QUEUED
                and row["digest"] == 1
                and row["attempts"] == 0
                and row["not_before"] <= now + within
            ):
                row["not_before"] = now
                moved += 1
        return moved

    async def list_notices(self, state: str | None = None) -> list[Notice]:
        return [
            _notice(row)
            for row in self._rows()
            if row["url"] != EVENT_URL and (state is None or row["state"] == state)
        ]

    async def job_notify(self, job_id: int) -> str | None:
        row = self.tables["jobs"].get(job_id)
        return None if row is None else row["notify"]

    async def forget_sent_notices(self, before: float) -> int:
        gone = [i for i, r in self.tables["notices"].items()
                if r["state"] == SENT and r["sent_at"] < before]  # fmt: skip
        for notice_id in gone:
            del self.tables["notices"][notice_id]
        return len(gone)
