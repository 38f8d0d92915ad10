"""A look's inputs (``batch:``) are fetched several at once, within a window, into one
job, and read in the list's order whatever order they arrived in; one that fails lets
those in flight be recorded, so the fetch tried again asks only for the rest."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ferryman.archive.reader import EntryInfo, EntryType
from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.model import Batch, BatchItem
from ferryman.net.progress import DownloadProgress
from ferryman.sources import batch as batch_source
from ferryman.sources.base import (
    Fetched,
    FetchPlan,
    ReadOptions,
    SourceEntry,
)
from ferryman.sources.batch import BatchSource, window_of
from ferryman.sources.builtin import default_sources
from tests.support.fetch_source import SchemeFetchSource


class SlowSource(SchemeFetchSource):
    """``slow:N``: a fetch that waits to be let go (``go[N]``), then writes ``N.jpg``."""

    schemes: tuple[str, ...] = ("slow",)
    description = "slow:N"

    def __init__(self, count: int, fail: frozenset[int] = frozenset()) -> None:
        self.go = {n: asyncio.Event() for n in range(count)}
        self.begun = {n: asyncio.Event() for n in range(count)}
        self.fail = set(fail)
        self.started: list[int] = []
        self.in_flight = 0
        self.most = 0

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        n = int(uri.removeprefix("slow:"))
        self.started.append(n)
        self.begun[n].set()
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.go[n].wait()
            if n in self.fail:
                self.fail.discard(n)  # once: the fetch tried again gets it
                raise FerrymanError("source.io", f"{uri}: a read failed")
            if plan.on_progress is not None:
                plan.on_progress(DownloadProgress(n + 1, n + 1, 0.0, None, 0))
            path = plan.folder / f"{n}.jpg"
            await asyncio.to_thread(path.write_bytes, bytes([n]) * (n + 1))
            return Fetched(path, n + 1, path.name)
        finally:
            self.in_flight -= 1

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        assert options.fetched is not None
        data = options.fetched.read_bytes()
        info = EntryInfo(0, options.fetched.name, len(data), None, EntryType.FILE)
        yield iter([SourceEntry(info, lambda: iter([data]))])


class _Watched(SlowSource):
    """A ``SlowSource`` that says (``late``, across threads) when an input from ``first``
    on starts."""

    def __init__(self, count: int, first: int, fail: frozenset[int]) -> None:
        super().__init__(count, fail)
        self.first = first
        self.late = threading.Event()

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        if int(uri.removeprefix("slow:")) >= self.first:
            self.late.set()
        return await super().fetch(uri, plan)


def _plan(settings: Settings, folder: Path, seen: list[DownloadProgress]) -> FetchPlan:
    return FetchPlan(
        folder=folder,
        network=settings.network,
        retry=settings.retry,
        client=httpx.AsyncClient,  # never called: no HTTP here
        on_progress=seen.append,
        settings=settings,
    )


def _uri(count: int) -> str:
    items = tuple(BatchItem(f"slow:{n}", f"Shot {n}") for n in range(count))
    return str(Batch("look", items))


async def _let_go(source: SlowSource, order: list[int]) -> None:
    """Each input let go in ``order`` once it has started."""
    for n in order:
        await source.begun[n].wait()
        source.go[n].set()


async def test_inputs_are_fetched_at_once_within_the_window_and_read_in_list_order(
    settings: Settings, tmp_path: Path
) -> None:
    count = 10
    source = SlowSource(count)
    batch = BatchSource(default_sources().with_source(source))
    seen: list[DownloadProgress] = []
    plan = _plan(settings, tmp_path / "fetch", seen)
    window = window_of(plan)
    assert window == 2 * settings.concurrency.fetch
    # A window's inputs let go once all of them are in flight (each makes its folder on
    # a thread first, so they reach the source in no set order: one let go at its own
    # start ended before a slower neighbour began, and the window never filled), the
    # last of each window first: arrival order is not the list's order.
    windows = [list(reversed(range(at, min(at + window, count)))) for at in range(0, count, window)]

    async def let_go() -> None:
        for inputs in windows:
            for n in inputs:
                await source.begun[n].wait()
            for n in inputs:
                source.go[n].set()

    fetching = asyncio.ensure_future(batch.fetch(_uri(count), plan))
    await asyncio.wait_for(let_go(), 10)
    got = await asyncio.wait_for(fetching, 10)
    assert source.most == window  # several at once, never more than the window
    assert got.size == sum(n + 1 for n in range(count))
    assert seen[-1].share == 1.0 and seen[-1].done == got.size == seen[-1].total
    shares = [p.share or 0.0 for p in seen]
    assert shares == sorted(shares)  # one bar over all the inputs: it never goes back
    with batch.open(_uri(count), ReadOptions(fetched=tmp_path / "fetch")) as entries:
        read = [(e.info.index, e.info.path) for e in entries]
    assert read == [(n, f"Shot {n}.jpg") for n in range(count)]


async def test_a_failed_input_lets_those_in_flight_be_recorded_and_the_retry_asks_the_rest(
    settings: Settings, tmp_path: Path
) -> None:
    count = 8
    source = SlowSource(count, fail=frozenset({1}))
    batch = BatchSource(default_sources().with_source(source))
    plan = _plan(settings, tmp_path / "fetch", [])
    window = window_of(plan)
    assert window < count - 1
    fetching = asyncio.ensure_future(batch.fetch(_uri(count), plan))
    # Input 1 fails first; those in flight with it end after it, and are kept.
    await asyncio.wait_for(_let_go(source, [1, *range(window)]), 10)
    try:
        await asyncio.wait_for(fetching, 10)
    except FerrymanError as exc:
        assert exc.code == "source.io"
    else:
        raise AssertionError("the fetch should fail with its input")
    first = list(source.started)
    assert sorted(first) == list(range(window))  # none started after the failure
    source.started.clear()
    for event in source.go.values():
        event.set()
    await asyncio.wait_for(batch.fetch(_uri(count), plan), 10)
    assert sorted(source.started) == [1, *range(window, count)]  # the recorded not again
    with batch.open(_uri(count), ReadOptions(fetched=tmp_path / "fetch")) as entries:
        assert [e.info.path for e in entries] == [f"Shot {n}.jpg" for n in range(count)]


async def test_no_input_starts_while_a_failed_ones_fault_is_counted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 8
    plan = _plan(settings, tmp_path / "fetch", [])
    window = window_of(plan)
    source = _Watched(count, window, fail=frozenset({1}))
    batch = BatchSource(default_sources().with_source(source))
    counted = batch_source._tried

    def slow_count(folder: Path) -> int:
        # Input 1's fault counted slowly (a loaded disk): the window in which input 0
        # ends and, on the old code, let input ``window`` start after the failure.
        source.late.wait(1.0)
        return counted(folder)

    monkeypatch.setattr(batch_source, "_tried", slow_count)
    fetching = asyncio.ensure_future(batch.fetch(_uri(count), plan))
    await asyncio.wait_for(_let_go(source, [1, *range(window)]), 10)
    for event in source.go.values():  # any input started late ends, and says so below
        event.set()
    with pytest.raises(FerrymanError):
        await asyncio.wait_for(fetching, 10)
    assert sorted(source.started) == list(range(window))  # none started after the failure
