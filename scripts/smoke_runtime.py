"""CI's smoke test of the install a user gets (``make smoke``): ferryman from its wheel
with only the dependencies it declares (``.venv-runtime``), where the test suite, run
with the development tools installed, cannot look. Each step runs the real
``ferryman`` and must end with its code, in its time, without a traceback:

- ``doctor``: exits 0 (optional tools are no failure), every Python package ferryman
  declares installed as it asks;
- YouTube's challenges: yt-dlp's own check finds the JavaScript runtime (deno, from its
  wheel in this environment) and the yt-dlp-ejs solver scripts, as ``doctor`` reports;
- ``docs``: the topics the wheel carries (docs/*.md), a few printed;
- ``demo``: sample inputs into a library;
- an unreachable link (``add --run https://nonexistent.invalid/x.zip``): fails with
  ``source.host_unknown`` and exit 1 within seconds (it once looped forever, an
  ImportError's traceback every 30 s, where psutil was not installed);
- ``web``: the page and ``/healthz`` answer; SIGTERM stops it with 0;
- ``telegram demo``: the scripted chat on the fake Telegram.

Standard library only (the runtime virtualenv has nothing else to offer). Usage:
``python scripts/smoke_runtime.py .venv-runtime/bin``; prints a line per step with its
time, exits 1 on the first step that fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

STEP_SECONDS = 180.0  # a step's bound: a hang fails the smoke instead of holding CI
UNREACHABLE_SECONDS = 60.0  # the unknown host: two tries a few seconds apart


class Failed(Exception):
    pass


def main(bin_dir: Path) -> int:
    ferryman = bin_dir / "ferryman"
    with tempfile.TemporaryDirectory(prefix="ferryman-smoke-") as scratch:
        root = Path(scratch)
        env = _clean_env(root)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("doctor: the declared Python packages", lambda: _doctor(ferryman, root, env)),
            ("YouTube's challenge solver", lambda: _solver(ferryman, root, env)),
            ("the docs it carries", lambda: _docs(ferryman, root, env)),
            ("demo", lambda: _demo(ferryman, root, env)),
            ("an unreachable link ends with its code", lambda: _unreachable(ferryman, root, env)),
            ("web answers", lambda: _web(ferryman, root, env)),
            ("telegram demo", lambda: _chat_demo(ferryman, root, env)),
        ]
        for name, step in steps:
            began = time.monotonic()
            try:
                step()
            except Failed as exc:
                print(f"FAIL  {name} ({time.monotonic() - began:.1f} s): {exc}", flush=True)
                return 1
            print(f"ok    {name} ({time.monotonic() - began:.1f} s)", flush=True)
    return 0


def _clean_env(root: Path) -> dict[str, str]:
    """The environment of a new user: no settings of the machine's, a home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FERRYMAN_", "PYTHON"))}
    env.update(HOME=str(root / "home"), XDG_CONFIG_HOME=str(root / "config"))
    env["FERRYMAN_SPACE_FLOOR"] = "0"  # a CI machine's disk may be nearly full
    return env


def _run(
    command: list[str | Path], env: dict[str, str], timeout: float = STEP_SECONDS
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            [str(c) for c in command], capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"still running after {timeout:.0f} s: {command}") from exc
    _no_traceback(done.stdout + done.stderr)
    return done


def _no_traceback(output: str) -> None:
    if "Traceback (most recent call last)" in output:
        raise Failed("a traceback:\n" + output[-4000:])


def _doctor(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    done = _run([ferryman, "--data-dir", root / "doctor", "doctor", "--json"], env)
    if done.returncode != 0:  # what a user needs works: optional tools are not failures
        raise Failed(f"doctor exit {done.returncode}:\n{done.stdout}{done.stderr}")
    packages = json.loads(done.stdout)["python"]
    if packages is None:
        raise Failed("ferryman is not installed as a package here")
    wrong = [p for p in packages if p["extra"] is None and not p["ok"]]
    if not packages or wrong:
        raise Failed(f"packages missing or too old: {wrong}")


def _solver(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    done = _run([ferryman, "--data-dir", root / "doctor", "doctor", "--json"], env)
    said = json.loads(done.stdout)["links"]["js_challenges"]
    runtime = said["runtime"] or {}
    own = runtime.get("where") == "ferryman's environment" and runtime.get("name") == "deno"
    if not own or said["scripts"] != "python package" or said["missing"]:
        raise Failed(f"the solver is not ready here: {said}")


def _docs(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    """`ferryman docs` lists the topics the wheel carries; those help pages name print."""
    done = _run([ferryman, "--data-dir", root / "docs", "docs", "--json"], env)
    topics = [t["topic"] for t in json.loads(done.stdout)["topics"]] if done.stdout else []
    if done.returncode != 0 or not {"cli", "web", "telegram"} <= set(topics):
        raise Failed(f"exit {done.returncode}, topics {topics}:\n{done.stderr}")
    for topic in ("cli", "web", "telegram"):
        shown = _run([ferryman, "--data-dir", root / "docs", "docs", topic], env)
        if shown.returncode != 0 or not shown.stdout.startswith("#"):
            raise Failed(f"`ferryman docs {topic}`: exit {shown.returncode}\n{shown.stderr}")


def _demo(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    done = _run([ferryman, "--data-dir", root / "demo", "demo"], env)
    if done.returncode != 0:
        raise Failed(f"exit {done.returncode}:\n{done.stdout}{done.stderr}")


def _unreachable(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    link = "https://nonexistent.invalid/x.zip"
    command: list[str | Path] = [ferryman, "--data-dir", root / "link", "add", "--run", link]
    done = _run(command, env, timeout=UNREACHABLE_SECONDS)
    said = done.stdout + done.stderr
    if done.returncode != 1 or "source.host_unknown" not in said:
        raise Failed(f"exit {done.returncode}, not 1 with source.host_unknown:\n{said}")


def _web(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    port = _free_port()
    command = [ferryman, "--data-dir", root / "web", "web", "--port", str(port)]
    server = subprocess.Popen(
        [str(c) for c in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _answers(f"{base}/healthz", server)
        with urllib.request.urlopen(f"{base}/", timeout=10) as page:
            if b"<html" not in page.read().lower():
                raise Failed("the page is not HTML")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise Failed("web did not stop within 60 s of SIGTERM") from None
        output = server.stdout.read() if server.stdout else ""
    _no_traceback(output)
    if code != 0:
        raise Failed(f"web exited {code} after SIGTERM:\n{output}")


def _answers(url: str, server: subprocess.Popen[str]) -> None:
    """Wait until ``url`` answers 200: the server is up (or fail when it ended)."""
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            out = server.stdout.read() if server.stdout else ""
            raise Failed(f"web ended with {server.returncode} before answering:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling a server that starts: the condition is its answer
    raise Failed(f"{url} did not answer within {STEP_SECONDS:.0f} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _chat_demo(ferryman: Path, root: Path, env: dict[str, str]) -> None:
    done = _run([ferryman, "--data-dir", root / "chat", "telegram", "demo"], env)
    if done.returncode != 0:
        raise Failed(f"exit {done.returncode}:\n{done.stdout}{done.stderr}")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".venv-runtime/bin")))
