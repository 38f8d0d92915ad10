"""The tests' waits count seconds of an unloaded machine (``tests/support/waiting``): a
wall second counts for the share of a core the load leaves, down to a floor, so a test
waiting its turn at load 40 does not fail, and a hang still ends the wait."""

from __future__ import annotations

import pytest

from tests.support import waiting
from tests.support.waiting import MIN_SHARE, Budget


def test_a_budget_is_wall_seconds_on_a_calm_machine_and_stretched_under_load() -> None:
    now = [0.0]
    share = [1.0]
    budget = Budget(10.0, share=lambda: share[0], clock=lambda: now[0])
    now[0] = 9.0
    assert not budget.spent()
    share[0] = 0.1  # the machine got busy: a wall second is a tenth of one
    now[0] = 18.0
    assert not budget.spent()  # 9 + 0.9 spent
    now[0] = 20.0
    assert budget.spent()  # 9 + 0.9 + 0.2
    assert budget.said("x").startswith("not within 10 s (20 s of wall at that load): x")


def test_the_share_is_one_within_the_cores_and_cores_over_load_past_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waiting.os, "cpu_count", lambda: 2)
    for load, share in ((0.5, 1.0), (2.0, 1.0), (8.0, 0.25), (400.0, MIN_SHARE)):
        monkeypatch.setattr(waiting.os, "getloadavg", lambda load=load: (load, load, load))
        assert waiting.core_share() == share


def test_a_path_gone_under_a_check_is_not_yet_and_said_if_the_wait_fails() -> None:
    calls = [0]

    def walk() -> list[str]:  # a folder renamed between its listing and its opening
        calls[0] += 1
        if calls[0] < 3:
            raise FileNotFoundError(2, "No such file or directory", ".0002.partial")
        return ["0002"]

    assert waiting.eventually_sync(walk, "album 2", every=0) == ["0002"]

    def never() -> list[str]:
        raise FileNotFoundError(2, "No such file or directory", "nowhere")

    with pytest.raises(AssertionError, match="nowhere"):
        waiting.eventually_sync(never, "a path that never comes", within=0.05, every=0.01)


async def test_the_loops_wait_takes_a_path_gone_as_not_yet_too() -> None:
    calls = [0]

    async def walk() -> bool:
        calls[0] += 1
        if calls[0] < 2:
            raise FileNotFoundError(2, "No such file or directory", ".0002.partial")
        return True

    assert await waiting.eventually(walk, "album 2", every=0) is True
