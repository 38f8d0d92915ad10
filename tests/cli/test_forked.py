"""The forked ``ferryman`` commands (tests/support/forked.py) behave as started ones: what
they print, their exit codes, their environment and folder, a signal's end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import forked
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.skipif(
    os.environ.get("FERRYMAN_TEST_FORK") == "0", reason="FERRYMAN_TEST_FORK=0: nothing is forked"
)


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {"FERRYMAN_DATA_DIR": str(data)} | extra


def test_a_forked_command_prints_and_ends_as_a_started_one(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    for args in (["status", "--json"], ["no-such-command"], ["config", "path"]):
        started = subprocess.run(
            [sys.executable, "-m", "ferryman", *args], env=env, capture_output=True, text=True
        )
        made = forked.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert made.returncode == started.returncode, args
        assert (made.stdout, made.stderr) == (started.stdout, started.stderr), args
    assert forked.run(["no-such-command"], env=env, timeout=120).returncode == 2


def test_each_command_gets_its_own_environment_folder_and_input(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("")
    said = forked.run(
        ["config", "path"], env=_env(tmp_path, FERRYMAN_CONFIG=str(config)),
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert said.returncode == 0 and str(config) in said.stdout, said
    plain = forked.run(["config", "path"], env=_env(tmp_path), capture_output=True, text=True)
    assert str(config) not in plain.stdout  # the last command's variable did not stay
    listed = tmp_path / "in.txt"
    added = forked.run(
        ["--json", "add", "-"], input=f"{listed}\n", env=_env(tmp_path / "d"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert str(listed) in added.stdout + added.stderr, added


def test_a_signal_ends_a_forked_command_as_it_ends_a_started_one(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    process = forked.popen(["run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def alive() -> bool:
        listed = forked.run(["workers", "--json"], env=env, capture_output=True, text=True)
        return '"alive"' in listed.stdout

    eventually_sync(alive, "the forked run's heartbeat")
    assert process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(60) == -signal.SIGKILL
    assert process.returncode == -signal.SIGKILL


def test_what_an_interpreter_reads_as_it_starts_makes_a_fresh_start() -> None:
    assert forked.enabled(dict(os.environ))
    assert not forked.enabled(os.environ | {"PYTHONPATH": "/elsewhere"})
    other = "C" if os.environ.get("LC_ALL") != "C" else "C.UTF-8"  # a locale not ours
    assert not forked.enabled(os.environ | {"LC_ALL": other})


async def test_a_forked_module_runs_as_python_m_would_and_ends_by_its_signal(
    tmp_path: Path,
) -> None:
    """``start_module`` (a test's own child, such as the Telegram crash tests' engine):
    the module's output for its arguments in its folder, as a started ``python -m``
    prints it; and a SIGKILL's end as asyncio tells it, however often it is asked."""
    (tmp_path / "given.json").write_text('{"b": 1, "a": [2]}')
    args = ["--sort-keys", "given.json"]
    env = _env(tmp_path / "data")
    started = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "json.tool", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    printed = tmp_path / "printed"
    with printed.open("wb") as out:
        child = await forked.start_module("json.tool", args, cwd=tmp_path, env=env, stdout=out)
    assert isinstance(child, forked.AsyncForked)
    assert await child.wait() == 0
    assert (await child.wait(), child.returncode) == (0, 0)
    assert printed.read_text() == started.stdout and started.returncode == 0

    reading, held = os.pipe()  # its input never ends: it waits on it until killed
    try:
        waiting = await forked.start_module("json.tool", [], cwd=tmp_path, env=env, stdin=reading)
        os.close(reading)
        ended = asyncio.ensure_future(waiting.wait())
        waiting.kill()
        assert await asyncio.wait_for(ended, 60) == -signal.SIGKILL
        assert await waiting.wait() == -signal.SIGKILL
    finally:
        os.close(held)


@pytest.mark.parametrize("how", ["return", "raise", "exit-text", "exit-3", "interrupt"])
def test_a_forked_module_ends_as_a_started_interpreter_ends(how: str) -> None:
    """The fork's own end (``zygote_server.run_as_main``, which skips the interpreter's
    teardown): its threads joined, then ``atexit``, its buffered output flushed, and
    the status and traceback of ``SystemExit`` or another exception, as ``python -m``."""
    root = Path(__file__).resolve().parents[2]
    module, env = "tests.support.ending_child", _env(root / "unused")
    started = subprocess.run(
        [sys.executable, "-m", module, how], cwd=root, env=env, capture_output=True, text=True
    )
    made = forked.Forked(
        [how], module=module, cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = made.communicate(timeout=120)
    assert (made.returncode, out, err) == (started.returncode, started.stdout, started.stderr)
    assert (
        started.returncode
        == {"return": 0, "raise": 1, "exit-text": 1, "exit-3": 3, "interrupt": -signal.SIGINT}[how]
    )
    assert started.stdout.endswith("the thread, joined after the module's end\n")
    assert started.stderr.endswith("atexit, after the thread\n")
