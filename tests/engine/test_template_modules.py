"""What the template children fork from loads ahead (``engine.plumbing.children``): it
holds them as long as the engine runs, so only what this run's children will import."""

from __future__ import annotations

import sys
import types

import pytest

from ferryman.engine.plumbing.children import (
    APPRISE,
    CHILD_MODULES,
    SCRIPT_CLI,
    WARM_LINKS,
    child_modules,
)


def _main(monkeypatch: pytest.MonkeyPatch, *, spec: object, file: str | None) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = spec  # type: ignore[assignment]
    if file is not None:
        main.__file__ = file
    monkeypatch.setitem(sys.modules, "__main__", main)


def test_apprise_only_where_notice_urls_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    _main(monkeypatch, spec=None, file=None)  # python -c
    assert child_modules(notices=False, links=False) == CHILD_MODULES  # ~4 MB less
    assert child_modules(notices=True, links=False) == (*CHILD_MODULES, APPRISE)


def test_yt_dlp_made_ready_only_where_links_are_expected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The patterns' 0.75 CPU-s and 10 MB, for a template that will fork links' children."""
    _main(monkeypatch, spec=None, file=None)
    assert child_modules(notices=False, links=True) == (*CHILD_MODULES, WARM_LINKS)
    assert WARM_LINKS not in child_modules(notices=True, links=False)


def test_the_cli_only_where_each_child_runs_the_main_script_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _main(monkeypatch, spec=None, file="/usr/bin/ferryman")  # the `ferryman` command
    assert SCRIPT_CLI in child_modules(notices=False, links=False)
    # python -m ferryman (a phone's service): multiprocessing runs no __main__ module again
    _main(monkeypatch, spec=types.SimpleNamespace(name="ferryman.__main__"), file="x.py")
    assert SCRIPT_CLI not in child_modules(notices=False, links=False)
