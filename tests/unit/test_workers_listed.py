"""`ferryman workers` lists each node's last stopped run, not every `run --until-idle`
ever made (a phone's cron left one row each time)."""

from __future__ import annotations

from typing import Any

from ferryman.engine.ops.nodes import last_stopped


def _run(node: str, pid: int, state: str, age: float) -> dict[str, Any]:
    return {"node": node, "pid": pid, "state": state, "heartbeat_age": age}


def test_each_node_keeps_its_newest_stopped_run_unless_one_is_live() -> None:
    runs = [
        _run("phone", 30, "stopped", 5.0),
        _run("phone", 20, "stopped", 500.0),
        _run("phone", 10, "stopped", 9000.0),
        _run("nas", 7, "running", 1.0),
        _run("nas", 6, "stopped", 60.0),
        _run("pi", 4, "silent", 400.0),
        _run("pi", 3, "stopped", 800.0),
    ]
    kept, older = last_stopped(runs)
    assert [(r["node"], r["pid"]) for r in kept] == [("phone", 30), ("nas", 7), ("pi", 4)]
    assert older == 4
    assert last_stopped([]) == ([], 0)
