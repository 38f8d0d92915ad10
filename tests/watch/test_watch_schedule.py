"""When a watch looks: its daily window, the backoff after failures, and the device's
conditions (a low battery moves the check, uncounted, without asking the source)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.engine.ops.intake import entry_job
from ferryman.engine.runner import new_owner
from ferryman.engine.watch.check import Checker, backoff, in_window, next_in_window, parse_window
from ferryman.errors import FerrymanError
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.sources.listers.builtin import default_listers
from ferryman.store import Store
from ferryman.store.watches.sql import Watch
from tests.support.contract import memory_store
from tests.support.httpserve import serving
from tests.watch.test_watch_feed import serve_feed

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


def _at(hour: int, minute: int = 0, day: int = 10) -> float:
    return datetime(2026, 11, day, hour, minute).timestamp()  # local time, as windows are


def test_a_window_is_local_time_and_may_span_midnight() -> None:
    assert parse_window("01:00-07:30") == (60, 450)
    assert in_window("01:00-07:00", _at(3)) and not in_window("01:00-07:00", _at(7))
    assert in_window("22:00-02:00", _at(23, 30)) and in_window("22:00-02:00", _at(1))
    assert not in_window("22:00-02:00", _at(12))
    assert in_window(None, _at(12))
    assert next_in_window("01:00-07:00", _at(3)) == _at(3)  # open: now
    assert next_in_window("01:00-07:00", _at(8)) == _at(1, day=11)  # tomorrow's opening
    assert next_in_window("01:00-07:00", _at(0, 30)) == _at(1)  # today's, later
    assert next_in_window("22:00-02:00", _at(12)) == _at(22)
    for bad in ("1:00-7:00", "01:00-01:00", "24:00-01:00", "01:00"):
        with pytest.raises(FerrymanError) as refused:
            parse_window(bad)
        assert refused.value.code == "watch.bad_window"


def _watch(every: float) -> Watch:
    return Watch(
        1, "feed", "https://h/f", "library:", None, every, None, "now", None, None, None,
        None, False, True, 0.0, None, None, None, None, 0, 0, 0.0,
    )  # fmt: skip


def test_failures_back_off_exponentially_up_to_a_cap() -> None:
    hourly = _watch(3600.0)
    assert [backoff(hourly, n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert backoff(hourly, 30) == 6 * 3600.0
    daily = _watch(86400.0)
    assert backoff(daily, 30) == 86400.0  # never waits longer than the watch's own period
    fast = _watch(15.0)
    assert backoff(fast, 1) == 15.0


async def test_a_low_battery_moves_the_check_uncounted_without_asking_the_source(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    supply = tmp_path / "power" / "BAT0"
    supply.mkdir(parents=True)
    (supply / "type").write_text("Battery\n")
    (supply / "capacity").write_text("12\n")
    (supply / "status").write_text("Discharging\n")
    settings = settings.model_copy(
        update={
            "power": settings.power.model_copy(update={"min_battery": 20}),
            "network": settings.network.model_copy(update={"recheck_seconds": 42.0}),
        }
    )
    device = Device(power_supply=tmp_path / "power", env={})
    owner = new_owner()
    checker = Checker(
        store, default_sources(), default_sinks(), default_listers(), device, owner, enter=entry_job
    )
    with serving() as server:
        serve_feed(server, tmp_path, ["b1"])
        added = await store.add_watch(
            kind="feed", source=server.url("/feed.xml"), dest="library:",
            every_seconds=3600.0, since="all", next_check_at=0.0, window="00:00-23:59",
        )  # fmt: skip
        claimed = await store.claim_watch(owner, 30)
        assert claimed is not None
        found = await checker.check(claimed, settings)
        assert found.waited and found.error is not None and found.error.code == "power.low"
        assert server.requests_for("/feed.xml") == []
        moved = await store.get_watch(added.id)
        assert (moved.failures, moved.last_code, moved.primed) == (0, "power.low", False)
        assert moved.next_check_at - store.clock() == pytest.approx(42.0, abs=2)
        (supply / "status").write_text("Charging\n")
        claimed = await store.claim_watch(owner, 30, added.id)
        assert claimed is not None
        found = await checker.check(claimed, settings, now_asked=True)
        assert found.error is None and [e.title for e, _ in found.made] == ["Episode b1"]
        assert len(server.requests_for("/feed.xml")) == 1


async def test_outside_its_window_a_watch_is_moved_to_the_opening(
    store: Store, settings: Settings
) -> None:
    now = datetime.now()
    opens, closes = (f"{(now + timedelta(hours=h)).strftime('%H')}:00" for h in (2, 3))
    closed = f"{opens}-{closes}"
    owner = new_owner()
    checker = Checker(
        store,
        default_sources(),
        default_sinks(),
        default_listers(),
        Device(env={}),
        owner,
        enter=entry_job,
    )
    added = await store.add_watch(
        kind="feed", source="http://127.0.0.1:9/feed.xml", dest="library:",
        every_seconds=3600.0, since="all", next_check_at=0.0, window=closed,
    )  # fmt: skip
    claimed = await store.claim_watch(owner, 30)
    assert claimed is not None
    found = await checker.check(claimed, settings)
    assert found.waited and found.error is None
    moved = await store.get_watch(added.id)
    assert moved.next_check_at == next_in_window(closed, store.clock()) > store.clock() + 3000
    assert moved.last_check_at is None and moved.failures == 0 and moved.owner is None
