"""Light commands answer at once: they must not load the engine, media, archive or
network libraries (each costs tenths of a second, seconds on a phone)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.samples import make_photo
from tests.support.webserve import web_env

# Loaded only by the commands that do the work (run, demo, telegram serve, doctor…).
HEAVY = (
    "av",
    "PIL",
    "pillow_heif",
    "telethon",
    "libarchive",
    "httpx",
    "yt_dlp",
    "fastapi",
    "starlette",
    "uvicorn",
    "ferryman.engine.runner",
    "ferryman.engine.read.step",
    "ferryman.media.probe",
    "ferryman.archive.opener",
    "ferryman.sources.local",
    "ferryman.net.download",
    # On SQLite the light commands read and write through the standard library's
    # sqlite3 (store/startup/sqlite3_store.py): no SQLAlchemy, no event loop.
    "sqlalchemy",
    "aiosqlite",
    "asyncio",
    "pydantic_settings",
)
# `--help` reads no settings and opens no store; nor the engine (`watch`'s words for a
# period load when a watch is shown: `--help` and `status` paid for them).
NOT_FOR_HELP = (
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "asyncio",
    "ferryman.config",
    "ferryman.engine",
)
# `status` with no job names no input: the source modules (and what they import) stay out.
NOT_FOR_EMPTY_STATUS = ("ferryman.sources.builtin", "ferryman.sources.http", "ferryman.links")
# Every light command: a value on the command line is made without Pydantic's adapters
# (frontdoors/cli/coercion.py; ~0.05 s), and the commands not asked for are not loaded
# (frontdoors/cli/lazy.py: `doctor`'s module alone loaded the sinks, ~0.04 s).
NOT_FOR_LIGHT = ("typer._adapters",)
COMMAND_MODULES = tuple(
    f"ferryman.frontdoors.cli.{module}"
    for module in ("work", "status", "job", "nodes", "doctor", "update", "docs", "completion",
                   "config", "telegram", "service", "web", "user", "watch")
)  # fmt: skip
# Which of them each light command loads: its own (`add`'s takes the presets' options).
OWN_MODULES = {"--help": (), "status": ("status",), "config": ("config",), "add": ("work",)}
# `add --help` reads no settings and opens no store either.
NOT_FOR_ADD_HELP = ("pydantic", "ferryman.config", "ferryman.store", "sqlite3", "asyncio")
# `run` of a job of photos to the library: what a video, a link or a chat needs stays
# out (PyAV alone: ~0.1 s of the run's start-up and ~20 MB of the engine's memory).
# Nor what only a download, a webhook, PostgreSQL or a store behind the newest schema needs
# (httpx and the egress guard, the PostgreSQL dialects, the migration steps): each
# `ferryman run` the tests start paid ~0.2 CPU-s for them.
NOT_FOR_PHOTOS = (
    "av",
    "telethon",
    "yt_dlp",
    "fastapi",
    "uvicorn",
    "ferryman.media.segmented",
    "httpx",
    "ferryman.net.egress",
    "sqlalchemy.dialects.postgresql",
    "ferryman.store.migrations",
    # The store speaks Core through the asyncio engine: the ORM that package's __init__
    # imports (~0.1 CPU-s a start) stays out (store/sqla_async.py).
    "sqlalchemy.orm",
)
# `web`'s start: what only a passkey ceremony needs (py_webauthn, and cryptography,
# pyOpenSSL, pyasn1 and cbor2 under it: ~0.13 CPU-s and 150 modules) comes with the first
# ceremony (web/accounts/ceremonies.py), not with every start.
NOT_FOR_WEB_START = (
    "webauthn",
    "cryptography",
    "OpenSSL",
    "pyasn1",
    "cbor2",
    "ferryman.web.accounts.ceremonies",
)

_PROBE = """
import json, sys
from ferryman.frontdoors.cli.root import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print("\\n@@modules@@" + json.dumps(sorted(sys.modules)))
"""


def _modules_after(args: list[str]) -> set[str]:
    return _run_probe(args)[1]


def _run_probe(args: list[str]) -> tuple[str, set[str]]:
    """The command's output, and the modules loaded when it ended."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )
    marker = done.stdout.rindex("@@modules@@")
    return done.stdout[:marker], set(json.loads(done.stdout[marker + len("@@modules@@") :]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize(
    "words",
    [
        ["--help"],
        ["status"],
        ["status", "--json"],
        ["config", "show"],
        ["add", "PHOTO"],
        ["add", "--help"],
    ],
    ids=lambda words: " ".join(words),
)
def test_light_commands_load_nothing_heavy(tmp_path: Path, words: list[str]) -> None:
    photo = make_photo(tmp_path / "photo.jpg", 1)
    args = [str(photo) if w == "PHOTO" else w for w in words]
    modules = _modules_after(["--data-dir", str(tmp_path / "data"), *args])
    assert "ferryman.frontdoors.cli.root" in modules  # the probe ran the command
    assert _loaded(modules, HEAVY) == []
    if words == ["--help"]:
        assert _loaded(modules, NOT_FOR_HELP) == []
    if words[0] == "status":
        assert _loaded(modules, NOT_FOR_EMPTY_STATUS) == []
    if words == ["add", "--help"]:
        assert _loaded(modules, NOT_FOR_ADD_HELP) == []
    assert _loaded(modules, NOT_FOR_LIGHT) == []
    own = {f"ferryman.frontdoors.cli.{m}" for m in OWN_MODULES[words[0]]}
    assert _loaded(modules, tuple(m for m in COMMAND_MODULES if m not in own)) == []
    assert own <= modules


_VERSION_PROBE = """
import json, sys
sys.argv = ["ferryman", "--version"]
from ferryman.frontdoors.cli import main
main()
print("@@modules@@" + json.dumps(sorted(sys.modules)))
"""


def test_version_is_answered_before_the_command_line_loads() -> None:
    """`ferryman --version` (the program's entry point, ``cli.main``) loads neither
    Typer nor Rich nor any command: it took as long as `--help` (0.32 s here)."""
    done = subprocess.run(
        [sys.executable, "-c", _VERSION_PROBE], capture_output=True, text=True, timeout=120
    )
    said, _, listed = done.stdout.partition("@@modules@@")
    from ferryman import __version__

    assert said == f"ferryman {__version__}\n"
    modules = set(json.loads(listed))
    assert _loaded(modules, ("typer", "click", "rich", "ferryman.frontdoors.cli.root")) == []
    assert _loaded(modules, HEAVY) == []


def test_run_of_photos_loads_no_video_library(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "photo.jpg", 1)
    data = ["--data-dir", str(tmp_path / "data")]
    _modules_after([*data, "add", str(photo)])
    output, modules = _run_probe([*data, "run", "--until-idle"])
    assert "1 delivered" in output  # the run did the job
    assert "PIL" in modules  # and read the photo
    assert _loaded(modules, NOT_FOR_PHOTOS) == []


def test_web_start_loads_no_passkey_library(tmp_path: Path) -> None:
    """`ferryman web` as the tests start it: the modules it loaded by its stop, having
    started its engine and answered a request."""
    process = subprocess.Popen(
        [sys.executable, "-c", _PROBE, "web", "--port", "0"],
        env=web_env(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = next(
            line.split()[2].rstrip("/")
            for line in process.stdout
            if line.startswith("ferryman web: http://")
        )
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    modules = set(json.loads(output[output.rindex("@@modules@@") + len("@@modules@@") :]))
    assert "ferryman.web.server" in modules  # the probe served
    assert _loaded(modules, NOT_FOR_WEB_START) == []


_GC_PROBE = """
import gc, json, sys
from ferryman.frontdoors.cli.root import main
usual = gc.get_threshold()
walks = []
gc.callbacks.append(lambda phase, info: walks.append(info) if phase == "start" else None)
sys.argv = ["ferryman", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("@@gc@@" + json.dumps({"usual": usual, "after": gc.get_threshold(), "walks": len(walks)}))
"""


def _gc_through(args: list[str]) -> dict[str, Any]:
    """The collector's thresholds before and after a command, and its walks meanwhile."""
    done = subprocess.run(
        [sys.executable, "-c", _GC_PROBE, *args], capture_output=True, text=True, timeout=120
    )
    found: dict[str, Any] = json.loads(done.stdout.rsplit("@@gc@@", 1)[1])
    return found


def test_no_collector_walk_through_start_up_and_the_engine_gets_the_usual_pace(
    tmp_path: Path,
) -> None:
    """A command's start-up makes ~150,000 objects that live on: the collector walked
    them again and again (~45 ms of each `ferryman run`'s start), so it is put off
    until the engine starts (frontdoors/quiet_start.py), and a light command, which
    ends before it matters, makes no walk at all."""
    photo = make_photo(tmp_path / "photo.jpg", 1)
    data = ["--data-dir", str(tmp_path / "data")]
    added = _gc_through([*data, "add", str(photo)])
    assert added["walks"] == 0, added
    ran = _gc_through([*data, "run", "--until-idle"])
    assert ran["after"] == ran["usual"], ran  # the engine ran at the usual pace
