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
