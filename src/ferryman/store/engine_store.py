"""``EngineStore``: all the engine asks of a store, the one type its ``Context`` takes.

The stages' ports (``store/ports``) and what the runner does beside them: lease
reaping and hand-back, the housekeeper's rounds, the node's heartbeat, the work
area's sweep and the wake-up listener. Both stores are one structurally: the SQL
``Store`` and the in-memory ``MemoryStore`` (``store/memory``), which mypy checks at
the foot of each module, so the whole engine runs on either.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from ferryman.model import Job
from ferryman.store.accounts.sql import User
from ferryman.store.jobs.ends import HousekeepingState
from ferryman.store.ports import (
    ConvertStore,
    DeliverStore,
    FetchStore,
    NoticeStore,
    ReadStore,
    RuntimeSettings,
    SinkStates,
    WatchStore,
)
from ferryman.store.shared.rows import Clock


class Listener(Protocol):
    """Wake-ups from other processes for this store (``store/wakeup``)."""

    async def start(self) -> bool:
        """Listen; False when it cannot (polls still find the work)."""
        ...

    async def close(self) -> None: ...


class People(Protocol):
    """Whose a job is (``engine/plumbing/personal``: their own rclone.conf)."""

    async def user(self, user_id: int) -> User | None: ...


class WatchPeople(Protocol):
    """A watch's person and what they used (``engine/ops/limits.of_watches``): a look
    makes no job past their limits."""

    clock: Clock

    async def user(self, user_id: int) -> User | None: ...
    async def watch_accounts(self) -> dict[int, int | None]: ...
    async def account_usage(self, account: int, since: float) -> dict[str, int]: ...


class EngineStore(
    WatchPeople,
    FetchStore,
    ReadStore,
    ConvertStore,
    DeliverStore,
    WatchStore,
    NoticeStore,
    SinkStates,
    RuntimeSettings,
    Protocol,
):
    """Every stage's port, and the runner's own asks (``engine/runner``)."""

    async def list_jobs(self) -> list[Job]: ...
    async def idle(self) -> bool: ...
    async def reap(self) -> int: ...
    async def release(self, owner: str | None, *, stopped: bool = False) -> int: ...
    async def node_beat(self, owner: str, node: str, pid: int, stages: tuple[str, ...]) -> bool: ...
    async def live_dests(self) -> list[str]: ...
    async def active_jobs(self) -> dict[int, bool]: ...
    async def housekeeping_state(self) -> HousekeepingState: ...
    async def finish_jobs(self) -> list[int]: ...
    async def watches_idle(self) -> bool: ...
    async def settle_ended(self, job_ids: Collection[int], grace: float) -> list[int]: ...
    async def work_paths(self) -> set[str]: ...

    def listener(self, on_wake: Callable[[], None]) -> Listener | None:
        """Calls ``on_wake`` when another process added work; None: no other process can."""
        ...
