"""Children fork from a warmed template (``media.child.warm``), yet behave as if started
fresh by the parent as it is at their start; and they die with the parent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ferryman.media.child import run_in_child

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forkserver and prctl: Linux")


def sleep_forever(pid_file: Path, progress: Callable[[float], None]) -> None:
    """A target: says its pid, then waits to be killed (the import above is all it loads)."""
    pid_file.write_text(str(os.getpid()))
    time.sleep(120)


def read_pid(pid_file: Path) -> int | None:
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text else None


def tell_surroundings(out: Path, progress: Callable[[float], None]) -> None:
    """A target: what the child sees of its process and of what it has loaded."""
    out.write_text(
        json.dumps(
            {
                "env": os.environ.get("FERRYMAN_CHILD_PROBE"),
                "cwd": os.getcwd(),
                "path_head": sys.path[0],
                "ppid": os.getppid(),
                "preloaded": "ferryman.links.grab" in sys.modules and "yt_dlp" in sys.modules,
            }
        )
    )


_PARENT = """
import asyncio, sys
from pathlib import Path
from ferryman.engine.children import warm_children
from ferryman.media.child import run_in_child
from tests.test_media_child import sleep_forever, tell_surroundings

async def main(what, out):
    if what == "tell":
        await run_in_child(tell_surroundings, {"out": out}, on_progress=None, timeout=60)
    else:
        await run_in_child(sleep_forever, {"pid_file": out}, on_progress=None, timeout=120)

if __name__ == "__main__":
    warm_children()
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
"""


def _parent(what: str, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", _PARENT, what, str(out)], env=env, cwd=ROOT)


def test_a_child_forks_from_the_warmed_template(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    parent = _parent("tell", out)
    assert parent.wait(120) == 0
    seen = json.loads(out.read_text())
    # yt-dlp was loaded before the child was asked for: it came from the template,
    # which is the child's parent, not the process that asked for it.
    assert seen["preloaded"] is True
    assert seen["ppid"] != parent.pid


async def test_a_child_has_the_parents_environment_as_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first.json"
    await run_in_child(tell_surroundings, {"out": first}, on_progress=None, timeout=60)
    # The template (started by now) knows none of what follows.
    monkeypatch.setenv("FERRYMAN_CHILD_PROBE", "set after the template started")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "on-the-path"))
    second = tmp_path / "second.json"
    await run_in_child(tell_surroundings, {"out": second}, on_progress=None, timeout=60)
    seen = json.loads(second.read_text())
    assert seen["env"] == "set after the template started"
    assert Path(seen["cwd"]) == tmp_path
    assert seen["path_head"] == str(tmp_path / "on-the-path")
    assert json.loads(first.read_text())["env"] is None


def test_a_forked_child_dies_with_its_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    parent = _parent("sleep", pid_file)
    try:
        deadline = time.monotonic() + 60
        while read_pid(pid_file) is None:
            assert parent.poll() is None and time.monotonic() < deadline, "no child started"
            time.sleep(0.05)
        child = read_pid(pid_file)
        assert child is not None and psutil.pid_exists(child)
        assert psutil.Process(child).ppid() != parent.pid  # the template made it
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _gone, alive = psutil.wait_procs([psutil.Process(child)], timeout=10)
        assert alive == []
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_a_cancel_while_the_child_starts_leaves_no_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(
        run_in_child(sleep_forever, {"pid_file": pid_file}, on_progress=None, timeout=120)
    )
    await asyncio.sleep(0)  # the task is waiting for its child's start now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(3.0)  # a child that outlived the cancel has written its pid by now
    pid = read_pid(pid_file)
    assert pid is None or not psutil.pid_exists(pid)
