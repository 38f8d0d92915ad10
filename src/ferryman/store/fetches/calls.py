"""A fetch's outside call that must be made once, whichever node makes it (a debrid
service's add of a magnet): claimed in the store before it is made, its result kept
there after, both as the job's source memos.

Several nodes share one store, each with its own fetch folder: what one keeps in its
folder another never sees. A worker whose fetch lease was lost while its add was on
the way (a stall), and the worker on another node that took the fetch over, each
found nothing and added the magnet twice. So the add is claimed first, in one
transaction (the job's row locked: two claims of one job take turns): the claim memo
``KEY.claim`` holds its owner and the time it is held until (renewed while the call
is on its way); the result memo ``KEY`` holds what the call gave. A claim by another
that still holds is ``HELD`` (wait, read again); an expired one is taken over
(``taken_over``: the call may have reached the service, which the caller asks
first); a result kept is ``MADE``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Delete, delete, insert, select

from ferryman.store.schema import jobs, source_memos
from ferryman.store.sql.base import StoreBase
from ferryman.store.sqla_async import AsyncConnection

MINE, HELD, MADE = "mine", "held", "made"
CLAIM = ".claim"  # the claim memo's key: the result's key and this


@dataclass(frozen=True, slots=True)
class OutsideCall:
    """What a claim of a job's outside call found: ``MINE`` (make it; ``taken_over``:
    another's claim had run out, its call may have been made), ``HELD`` (another's,
    held until ``until``) or ``MADE`` (its result, ``value``)."""

    state: str
    value: str | None = None
    until: float | None = None
    taken_over: bool = False


def decide(
    memos: dict[str, str], key: str, owner: str, now: float, hold: float
) -> tuple[OutsideCall, str | None]:
    """What a claim by ``owner`` finds among the job's ``memos``, and the claim memo to
    write (None: none): the one rule of both stores."""
    if key in memos:
        return OutsideCall(MADE, value=memos[key]), None
    held = _holder(memos.get(key + CLAIM))
    if held is not None and held[0] != owner and held[1] > now:
        return OutsideCall(HELD, until=held[1]), None
    claim = json.dumps({"owner": owner, "until": now + hold})
    return OutsideCall(MINE, taken_over=held is not None and held[0] != owner), claim


def mine(claim: str | None, owner: str) -> bool:
    """Whether the claim memo ``claim`` is ``owner``'s."""
    held = _holder(claim)
    return held is not None and held[0] == owner


def nobodys(claim: str | None) -> str:
    """The claim ``claim`` as nobody's, held as long as it was."""
    held = _holder(claim)
    return json.dumps({"owner": "", "until": held[1] if held is not None else 0.0})


def _holder(claim: str | None) -> tuple[str, float] | None:
    if claim is None:
        return None
    try:
        said = json.loads(claim)
        return str(said["owner"]), float(said["until"])
    except (ValueError, KeyError, TypeError):
        return ("", 0.0)  # unreadable: held by nobody, taken over


class OutsideCalls(Protocol):
    """The store's side of an outside call made once (a part of ``FetchStore``)."""

    async def claim_call(self, job_id: int, key: str, owner: str, hold: float) -> OutsideCall: ...
    async def call_made(
        self, job_id: int, key: str, owner: str, value: str, *, replace: bool = False
    ) -> str: ...
    async def call_dropped(
        self, job_id: int, key: str, owner: str, *, unknown: bool = False
    ) -> None: ...


class OutsideCallQueries(StoreBase):
    async def claim_call(self, job_id: int, key: str, owner: str, hold: float) -> OutsideCall:
        """Claim the job's outside call ``key`` for ``owner`` for ``hold`` seconds (a
        claim of its own renewed), unless another holds it or its result is kept."""
        now = self.clock()
        async with self._write() as conn:
            memos = await _locked_memos(conn, job_id, key)
            found, claim = decide(memos, key, owner, now, hold)
            if claim is not None:
                await _put(conn, job_id, key + CLAIM, claim, now)
        return found

    async def call_made(
        self, job_id: int, key: str, owner: str, value: str, *, replace: bool = False
    ) -> str:
        """The call gave ``value``: kept, and ``owner``'s claim ended. A result kept
        before stays (the first call's: returned) unless ``replace`` (the same item
        under a new id)."""
        now = self.clock()
        async with self._write() as conn:
            memos = await _locked_memos(conn, job_id, key)
            kept = memos.get(key)
            if kept is None or replace:
                await _put(conn, job_id, key, value, now)
                kept = value
            if mine(memos.get(key + CLAIM), owner):
                await conn.execute(_drop(job_id, key + CLAIM))
        return kept

    async def call_dropped(
        self, job_id: int, key: str, owner: str, *, unknown: bool = False
    ) -> None:
        """``owner``'s call ended without a result: its claim ends. ``unknown``: the call
        may have reached the service all the same (cut by a lost lease or a stop, no
        answer): the claim stays until it runs out, nobody's, so every worker (its own
        too) waits that long, then asks the service first (it lists what it got)."""
        now = self.clock()
        async with self._write() as conn:
            memos = await _locked_memos(conn, job_id, key)
            claim = memos.get(key + CLAIM)
            if mine(claim, owner):
                await conn.execute(_drop(job_id, key + CLAIM))
                if unknown:
                    await _put(conn, job_id, key + CLAIM, nobodys(claim), now)


async def _locked_memos(conn: AsyncConnection, job_id: int, key: str) -> dict[str, str]:
    """The result and claim memos of ``key``, the job's row locked first: two nodes'
    claims of one job take turns (SQLite has one writer at a time anyway)."""
    await conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update())
    found = await conn.execute(
        select(source_memos.c.key, source_memos.c.value).where(
            source_memos.c.job_id == job_id, source_memos.c.key.in_([key, key + CLAIM])
        )
    )
    return {k: v for k, v in found}


async def _put(conn: AsyncConnection, job_id: int, key: str, value: str, now: float) -> None:
    await conn.execute(_drop(job_id, key))
    await conn.execute(
        insert(source_memos).values(job_id=job_id, key=key, value=value, updated_at=now)
    )


def _drop(job_id: int, key: str) -> Delete:
    return delete(source_memos).where(source_memos.c.job_id == job_id, source_memos.c.key == key)
