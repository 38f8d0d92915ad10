"""httpx imported after ferryman leaves its command line's modules unloaded until used
(``ferryman.lazy_httpx``); each check runs in a fresh interpreter, where nothing has
imported httpx yet."""

from __future__ import annotations

import subprocess
import sys

CLI_MODULES = ("click", "pygments", "rich.syntax", "rich.progress")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


def test_the_engine_imports_httpx_without_its_command_line() -> None:
    """httpx's ``__init__`` imported its CLI (click, rich, pygments: ~5 MB, 0.1-0.3 s)
    in every process that imports it, the engine's included."""
    out = _run(
        "import sys, ferryman.engine.fetch.step, httpx\n"
        f"print(sorted(m for m in {CLI_MODULES!r} if m in sys.modules))\n"
        "print(httpx.Client.__name__, callable(httpx.main))"
    )
    assert out.splitlines() == ["[]", "Client True"]


def test_httpx_command_line_still_runs_and_its_module_is_its_own() -> None:
    """``httpx.main`` runs the same command line; once loaded, or once any other name
    of ``httpx._main`` is read, both are httpx's own objects."""
    code = (
        "import sys, {first}httpx\n"
        "sys.argv = ['httpx', '--help']\n"
        "try:\n    httpx.main()\nexcept SystemExit as stop:\n    print('exit', stop.code)\n"
        "import click, httpx._main\n"
        "print(isinstance(httpx.main, click.Command), httpx._main.print_help.__module__)\n"
        "print(sys.modules['httpx._main'] is httpx._main and hasattr(httpx._main, '__file__'))"
    )
    theirs = _run(code.format(first=""))
    ours = _run(code.format(first="ferryman, "))
    assert "Usage: httpx <URL> [OPTIONS]" in ours
    assert ours == theirs
    assert ours.splitlines()[-2:] == ["True httpx._main", "True"]
    lazily = _run(
        "import sys, ferryman, httpx\n"
        "from httpx._main import print_help\n"
        "print(print_help.__module__, 'click' in sys.modules, type(httpx.main).__name__)"
    )
    assert lazily.split() == ["httpx._main", "True", "Command"]
