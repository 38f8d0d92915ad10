"""Children fork from a warmed template (``media.child.warm``), yet behave as if started
fresh by the parent as it is at their start; they die with the parent, outlive a lost
template, and are spawned fresh where no template can start."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ferryman.media.child import run_in_child
from tests.support.waiting import eventually, eventually_sync

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forkserver and fcntl: Linux")


def sleep_forever(pid_file: Path, progress: Callable[[float], None]) -> None:
    """A target: says its pid, then waits to be killed (the import above is all it loads)."""
    pid_file.write_text(str(os.getpid()))
    threading.Event().wait()  # never set: a hang, ended only by a kill


def hold_the_gil(pid_file: Path, progress: Callable[[float], None]) -> None:
    """A target: says its pid, then runs one long C call that never lets the GIL go (a
    thread of this process waiting for its parent's end would never run)."""
    pid_file.write_text(str(os.getpid()))
    while True:
        sum(range(10**10))


def nap(pid_file: Path, progress: Callable[[float], None]) -> None:
    """A target: says its pid, waits until its template is gone (it is then another
    process's child), then ends well."""
    template = os.getppid()
    pid_file.write_text(str(os.getpid()))
    eventually_sync(lambda: os.getppid() != template, "the template gone", within=60)


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
import asyncio, multiprocessing, sys, threading, time
from pathlib import Path
from ferryman.engine.plumbing.children import CHILD_MODULES
from ferryman.media import child
from tests.media import test_media_child as targets
from tests.support.waiting import eventually

async def main(what, out):
    run = child.run_in_child
    if what == "tell":
        await run(targets.tell_surroundings, {"out": out}, on_progress=None, timeout=60)
    elif what == "cancel":  # the template is still loading: a cancel must not wait for it
        task = asyncio.create_task(
            run(targets.sleep_forever, {"pid_file": out}, on_progress=None, timeout=60)
        )
        await eventually(  # the start under way: the template still loads
            lambda: any(t.name == "child-start" for t in threading.enumerate()), "a start"
        )
        began = time.monotonic()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        print(f"cancel took {time.monotonic() - began:.3f}", flush=True)
        # The start goes on apart once the template has loaded: the child it makes is
        # killed and joined. Its threads over, this process has no child left.
        await eventually(
            lambda: not any(t.name in ("child-start", "child-reap") for t in threading.enumerate()),
            "the abandoned start and its reaping over",
            within=120,
        )
        print(f"children left {len(multiprocessing.active_children())}", flush=True)
    elif what == "timeout":  # the template is still loading when the time is up
        began = time.monotonic()
        try:
            await run(targets.sleep_forever, {"pid_file": out}, on_progress=None, timeout=1)
        except child.FerrymanError as exc:
            print(f"{exc.code} after {time.monotonic() - began:.3f}", flush=True)
    else:
        target = getattr(targets, what)
        await run(target, {"pid_file": out}, on_progress=None, timeout=120)

if __name__ == "__main__":
    if sys.argv[1] in ("cancel", "timeout"):
        child.warm(["tests.support._slow_import"])
    else:
        child.warm(CHILD_MODULES)
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
"""


def _parent(
    what: str, out: Path, env: dict[str, str] | None = None, stdout: int | None = None
) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    cmd = [sys.executable, "-c", _PARENT, what, str(out)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, text=True, stdout=stdout)


def _wait_for_pid(pid_file: Path, parent: subprocess.Popen[str]) -> int:

    def started() -> int | None:
        assert parent.poll() is None, "the parent ended before its child started"
        return read_pid(pid_file)

    return eventually_sync(started, "a child started", within=60, every=0.05)


def test_a_child_forks_from_the_warmed_template(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    parent = _parent("tell", out)
    assert parent.wait(120) == 0
    seen = json.loads(out.read_text())
    # yt-dlp was loaded before the child was asked for: it came from the template,
    # which is the child's parent, not the process that asked for it.
    assert seen["preloaded"] is True
    assert seen["ppid"] != parent.pid


def test_where_no_template_can_start_children_are_spawned(tmp_path: Path) -> None:
    """A template listens on a socket under TMPDIR, whose name has a length limit: a
    TMPDIR too long for it still runs children, started afresh."""
    long_tmp = tmp_path / ("d" * 110)
    long_tmp.mkdir()
    out = tmp_path / "seen.json"
    parent = _parent("tell", out, env={"TMPDIR": str(long_tmp)})
    assert parent.wait(120) == 0
    seen = json.loads(out.read_text())
    assert seen["ppid"] == parent.pid  # spawned by the parent itself
    assert seen["preloaded"] is False


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


@pytest.mark.parametrize("target", ["sleep_forever", "hold_the_gil"])
def test_a_forked_child_dies_with_its_parent(tmp_path: Path, target: str) -> None:
    pid_file = tmp_path / "pid"
    parent = _parent(target, pid_file)
    try:
        child = _wait_for_pid(pid_file, parent)
        assert psutil.Process(child).ppid() != parent.pid  # the template made it
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        # The kernel ends it: a thread waiting for the parent's end would not get the
        # GIL from hold_the_gil for many seconds. Ended is gone or a zombie: it runs no
        # more code, and its parent (the template, dying too) may not have reaped it yet
        # on a loaded machine, which psutil counts as alive.
        eventually_sync(lambda: _ended(child), f"child {child} ended", within=3)
    finally:
        if parent.poll() is None:
            parent.kill()
        if (pid := read_pid(pid_file)) is not None and psutil.pid_exists(pid):
            psutil.Process(pid).kill()


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_child_outlives_a_lost_template(tmp_path: Path) -> None:
    """The template gone (the OOM killer, Android's process limit), a running child's
    exit status can no longer be had through it: the child still finishes, and its
    outcome counts."""
    pid_file = tmp_path / "pid"
    parent = _parent("nap", pid_file)
    try:
        child = _wait_for_pid(pid_file, parent)
        template = psutil.Process(child).ppid()
        assert template != parent.pid
        os.kill(template, signal.SIGKILL)
        assert parent.wait(60) == 0  # the child's "ok", not "the worker process died"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
def test_a_cancel_while_the_template_loads_does_not_wait_for_it(tmp_path: Path) -> None:
    """The template loads its modules for 5 s here (a phone's PyAV and yt-dlp): a cancel
    during a child's start returns at once, and no child is left behind."""
    pid_file = tmp_path / "pid"
    parent = _parent("cancel", pid_file, stdout=subprocess.PIPE)
    out, _ = parent.communicate(timeout=120)
    assert parent.returncode == 0
    took = float(out.split("cancel took ")[1].split()[0])
    assert took < 2.0, out
    assert "children left 0" in out, out  # checked whether or not the child wrote its pid
    pid = read_pid(pid_file)
    assert pid is None or not psutil.pid_exists(pid)


async def test_a_cancel_while_the_child_starts_leaves_no_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(
        run_in_child(sleep_forever, {"pid_file": pid_file}, on_progress=None, timeout=120)
    )
    await asyncio.sleep(0)  # the task is waiting for its child's start now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The start goes on apart: a child it makes after all is killed and joined there.
    # Once those threads are over, no child of this process is left, whether or not
    # it got as far as writing its pid (a check that holds in every outcome).
    await eventually(
        lambda: not any(t.name in ("child-start", "child-reap") for t in threading.enumerate()),
        "the abandoned start and its reaping over",
    )
    left = [c for c in multiprocessing.active_children() if c.name == "ferryman-sleep_forever"]
    assert left == []
    pid = read_pid(pid_file)
    assert pid is None or not psutil.pid_exists(pid)


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
def test_a_start_that_outlasts_the_timeout_is_a_timeout(tmp_path: Path) -> None:
    """The timeout covers the child's start too: a template still loading (5 s here)
    when the time is up (1 s) gives ``media.convert_timeout`` at once."""
    pid_file = tmp_path / "pid"
    parent = _parent("timeout", pid_file, stdout=subprocess.PIPE)
    out, _ = parent.communicate(timeout=120)
    assert parent.returncode == 0
    code, took = out.split(" after ")
    assert code == "media.convert_timeout", out
    assert float(took) < 3.0, out
