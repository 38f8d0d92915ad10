"""No function, method or class in ``src/`` that nothing calls (tests, benchmarks and
the fake Telegram server count as callers): ``vulture`` finds them in a few seconds.

Ignored: what a framework calls through its decorator (routes, commands, validators,
fixtures, properties) and what a protocol calls by name (a file object's ``readable`` or
``tell``, a DB-API cursor's methods, a lazy module's ``__getattr__``). A new name here
needs the same kind of reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vulture

ROOT = Path(__file__).resolve().parents[2]
DECORATORS = [
    "@app.*", "@*.command", "@*.callback", "@*_validator", "@*.exception_handler",
    "@*.get", "@*.post", "@*.put", "@*.delete", "@*.websocket", "@*.middleware",
    "@*.fixture", "@property", "@contextmanager", "@asynccontextmanager",
]  # fmt: skip
BY_NAME = [
    "readable", "seekable", "tell", "fetchmany", "nextset", "setinputsizes",
    "__getattr__", "__getitem__",
    "do_GET", "do_HEAD", "log_message",  # http.server's handler hooks
    "format_help",  # click's Command hook (cli.help writes every --help)
    "send_400_response",  # uvicorn's H11Protocol hook (web.connections answers with a code)
    "create_module",  # importlib's loader protocol (lazy_httpx: a light httpx._main)
]  # fmt: skip


@pytest.mark.slow  # over 3 s: a scan of all the source
def test_no_function_in_src_is_called_by_nothing() -> None:
    found = vulture.Vulture(ignore_names=BY_NAME, ignore_decorators=DECORATORS)
    found.scavenge([str(ROOT / d) for d in ("src/ferryman", "src/faketg", "tests", "bench")])
    src = ROOT / "src" / "ferryman"
    dead = [
        f"{Path(item.filename).relative_to(ROOT)}:{item.first_lineno}: {item.typ} {item.name}"
        for item in found.get_unused_code(min_confidence=60)
        if item.typ in ("function", "method", "class") and Path(item.filename).is_relative_to(src)
    ]
    assert dead == []


def test_the_check_finds_a_function_nobody_calls(tmp_path: Path) -> None:
    """The check is not vacuous: a module with an uncalled function is reported."""
    (tmp_path / "m.py").write_text(
        "def used():\n    pass\n\ndef forgotten():\n    pass\n\nused()\n"
    )
    found = vulture.Vulture()
    found.scavenge([str(tmp_path)])
    assert [i.name for i in found.get_unused_code(min_confidence=60)] == ["forgotten"]
