"""``ferryman update``: yt-dlp and its solver (yt-dlp-ejs) updated inside ferryman's own
environment, tried before they are kept, and put back when the trial fails.

Sites change and an old yt-dlp stops reading them (``source.changed``); a new one now and
then breaks. So the update is a trial: pip (``python -m pip`` of that environment) plans
the upgrade (``install --dry-run --report``), the wheels of the versions in place and of
the new ones are downloaded into ``<data_dir>/updates/wheels`` first, the new ones are
installed from there, and a smoke set runs in a fresh interpreter of the environment:
``import yt_dlp`` (its version must be the new one), ``import yt_dlp_ejs``, and yt-dlp's
own extraction of a page with a ``<video>`` and of an HLS master served on loopback by
this process (nothing leaves the machine). A failure puts the versions that were in
place back from the kept wheels, offline (``--no-index``). The wheels of the version kept
and of the one before stay; older ones go.

The index is pip's own: its configuration and environment (``PIP_INDEX_URL``,
``PIP_FIND_LINKS``, ``PIP_NO_INDEX``) apply, as do ``index_url`` / ``find_links``.
Blocking (pip, a child interpreter): call from a thread. A ferryman already running
takes the kept version at its next link (``links.grab.installed_yt_dlp``: a link's child
loads yt-dlp afresh when the version on disk is not the one its template loaded).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ferryman.errors import FerrymanError

# What an update moves, by its distribution name; the first is asked with its extra
# ``default`` (which pins the solver's version yt-dlp wants).
PACKAGES = ("yt-dlp", "yt-dlp-ejs")
ASKED = ("yt-dlp[default]", "yt-dlp-ejs")
WHEELS = Path("updates") / "wheels"
PIP_SECONDS = 600.0  # one pip step (a download of a few MB, at worst a slow index)
SMOKE_SECONDS = 120.0  # a fresh interpreter importing yt-dlp and reading two local links

Versions = dict[str, str | None]  # distribution name -> version installed (None: not)

_VERSIONS = """
import importlib.metadata as m, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""

# Run by the environment's own interpreter: what it imports and what yt-dlp reads.
_SMOKE = """
import importlib.metadata as m, json, sys
import yt_dlp
from yt_dlp.version import __version__
said = {"yt-dlp": __version__, "yt-dlp-ejs": None, "found": {}}
try:
    import yt_dlp_ejs  # noqa: F401
    said["yt-dlp-ejs"] = m.version("yt-dlp-ejs")
except ImportError:
    pass
options = {"quiet": True, "no_warnings": True, "skip_download": True, "proxy": "",
           "cachedir": False, "socket_timeout": 30, "noprogress": True}
with yt_dlp.YoutubeDL(options) as ydl:
    for name, url in json.loads(sys.argv[1]).items():
        info = ydl.extract_info(url, download=False)
        formats = info.get("formats") or [info]
        said["found"][name] = sorted(f["url"] for f in formats if f.get("url"))
print(json.dumps(said))
"""

_PAGE = b'<!doctype html><title>ferryman smoke</title><video src="/clip.mp4"></video>'
_MASTER = b"""#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
v360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720
v720.m3u8
"""
_SITE = {
    "/page.html": ("text/html; charset=utf-8", _PAGE),
    "/master.m3u8": ("application/vnd.apple.mpegurl", _MASTER),
}
# What the smoke set's links must give: each link's name -> the paths among its formats.
EXPECTED = {"page": ("/clip.mp4",), "hls": ("/v360.m3u8", "/v720.m3u8")}


@dataclass(frozen=True, slots=True)
class Pip:
    """How pip is run for the environment of ``python``: by ``runner``'s pip (the same
    interpreter, unless one without pip is updated by another's: ``pip --python``),
    with the index options given (pip's own configuration applies besides)."""

    python: str = sys.executable
    runner: str = sys.executable
    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def command(self, *words: str) -> list[str]:
        head = [self.runner, "-m", "pip", "--disable-pip-version-check", "--no-input"]
        if self.runner != self.python:
            head += ["--python", self.python]
        return [*head, *words]

    def index(self) -> list[str]:
        words = ["--index-url", self.index_url] if self.index_url else []
        for place in self.find_links:
            words += ["--find-links", place]
        return [*words, "--no-index"] if self.no_index else words


@dataclass(slots=True)
class Outcome:
    """What an update did: ``updated``, ``current`` (nothing newer), ``available`` (a
    check only), ``rolled_back`` (the new one failed its trial and is gone)."""

    outcome: str
    before: Versions
    after: Versions
    trial: str = ""

    def as_json(self) -> dict[str, object]:
        return {"outcome": self.outcome, "before": self.before, "after": self.after,
                "trial": self.trial}  # fmt: skip


def update(
    data_dir: Path, pip: Pip, *, check: bool = False, said: Callable[[str], None] = print
) -> Outcome:
    """Update, try, keep or roll back (see the module's text); ``said`` hears each step."""
    before = installed(pip.python)
    plan = planned(pip)
    if not plan:
        return Outcome("current", before, before)
    if check:
        return Outcome("available", before, {**before, **plan})
    wheels = data_dir / WHEELS
    wheels.mkdir(parents=True, exist_ok=True)
    with _alone(wheels.parent / "update.lock"):
        return _update(pip, wheels, before, plan, said)


def _update(
    pip: Pip, wheels: Path, before: Versions, plan: dict[str, str], said: Callable[[str], None]
) -> Outcome:
    old = {name: before.get(name) for name in plan}
    said(f"keeping the wheels of {_named(old)} and {_named(plan)} in {wheels}")
    _keep(pip, wheels, [(n, v) for n, v in old.items() if v is not None])  # pip: one set
    _keep(pip, wheels, list(plan.items()))  # a call (two versions of one package clash)
    said("installing " + _named(plan))
    asked = [f"{_asked(name)}=={version}" for name, version in plan.items()]
    done = _pip(pip, "install", "--upgrade", "--find-links", str(wheels), *pip.index(), *asked)
    failure = None if done.returncode == 0 else f"pip install failed: {_tail(done.stderr)}"
    if failure is None:
        said("trying " + _named(plan))
        failure = smoke(pip.python, {**before, **plan})
    if failure is None:
        _prune(wheels, {n: {v for v in (old[n], plan[n]) if v} for n in plan})
        return Outcome("updated", before, {**before, **plan}, "passed")
    said(f"the trial failed ({failure}); putting {_named(old)} back")
    _roll_back(pip, wheels, old)
    after = installed(pip.python)
    if any(after.get(name) != version for name, version in old.items()):
        raise FerrymanError(
            "update.rollback_failed",
            f"{_named(plan)} failed its trial ({failure}) and {_named(old)} could not be put"
            f" back (now: {_named(after)}). Put it back by hand: {pip.python} -m pip"
            f" install --no-index --find-links {wheels} {_pins(old)}",
        )
    return Outcome("rolled_back", before, after, failure)


def installed(python: str) -> Versions:
    """The versions of ``PACKAGES`` in ``python``'s environment."""
    done = _run([python, "-c", _VERSIONS, *PACKAGES], 60.0)
    if done.returncode != 0:
        raise FerrymanError(
            "update.environment",
            f"{python} did not say which yt-dlp it has: {_tail(done.stderr)}. Check that"
            " ferryman's environment runs (`ferryman doctor`).",
        )
    found: Versions = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def planned(pip: Pip) -> dict[str, str]:
    """The new versions pip would install now (those of ``PACKAGES`` only; empty: none)."""
    done = _pip(pip, "install", "--dry-run", "--upgrade", "--quiet", "--report", "-",
                *pip.index(), *ASKED)  # fmt: skip
    if done.returncode != 0 and "No module named pip" in done.stderr:
        raise FerrymanError(
            "update.no_pip",
            f"ferryman's environment ({pip.runner}) has no pip."
            " Installed with uv: `uv tool upgrade ferryman --upgrade-package yt-dlp`; with"
            f" pipx: `pipx upgrade ferryman`; else add pip ({pip.runner} -m ensurepip).",
        )
    if done.returncode != 0:
        raise FerrymanError(
            "update.index",
            f"pip found no yt-dlp to install: {_tail(done.stderr)}. Nothing was changed;"
            " check the network and the index (--index-url, --find-links, or pip's own"
            " PIP_INDEX_URL and pip.conf), then run `ferryman update` again.",
        )
    try:
        report = json.loads(done.stdout[done.stdout.index("{") :])
    except ValueError as exc:
        raise FerrymanError(
            "update.index",
            f"pip's plan could not be read ({exc}). Nothing was changed; update pip"
            f" ({sys.executable} -m pip install -U pip), then run `ferryman update` again.",
        ) from None
    plan = {}
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        name = _canonical(str(meta.get("name", "")))
        if name in PACKAGES:
            plan[name] = str(meta["version"])
    return plan


def smoke(python: str, expected: Versions) -> str | None:
    """The smoke set run by ``python``; None when it passed, else what failed."""
    with _served() as base:
        links = {"page": f"{base}/page.html", "hls": f"{base}/master.m3u8"}
        done = _run([python, "-c", _SMOKE, json.dumps(links)], SMOKE_SECONDS)
    if done.returncode != 0:
        return f"yt-dlp failed: {_tail(done.stderr)}"
    try:
        said = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"yt-dlp said nothing readable: {_tail(done.stdout)}"
    for name in PACKAGES:
        if expected.get(name) is not None and not _same(said.get(name), expected[name]):
            return f"{name} {said.get(name)} was imported, not {expected[name]}"
    for name, paths in EXPECTED.items():
        urls = said.get("found", {}).get(name, [])
        missing = [p for p in paths if not any(str(u).endswith(p) for u in urls)]
        if missing:
            return f"yt-dlp did not find {', '.join(missing)} in its {name} link (it found {urls})"
    return None


def _keep(pip: Pip, wheels: Path, versions: list[tuple[str, str]]) -> None:
    """The wheels of ``versions`` in ``wheels`` (downloaded where missing); nothing is
    installed before they are all there."""
    missing = [f"{n}=={v}" for n, v in versions if not _wheel(wheels, n, v)]
    if not missing:
        return
    done = _pip(pip, "download", "--no-deps", "--only-binary", ":all:", "--dest", str(wheels),
                *pip.index(), *missing)  # fmt: skip
    if done.returncode != 0:
        raise FerrymanError(
            "update.keep_failed",
            f"{', '.join(missing)} could not be downloaded: {_tail(done.stderr)}. Nothing was"
            " changed (the version in place stays); check the network and the index"
            " (--index-url, --find-links, pip.conf), then run `ferryman update` again.",
        )


def _roll_back(pip: Pip, wheels: Path, old: Versions) -> None:
    back = [f"{n}=={v}" for n, v in old.items() if v is not None]
    if back:
        _pip(pip, "install", "--no-index", "--find-links", str(wheels), "--no-deps",
             "--force-reinstall", *back)  # fmt: skip
    gone = [n for n, v in old.items() if v is None]
    if gone:
        _pip(pip, "uninstall", "--yes", *gone)


def _prune(wheels: Path, keep: dict[str, set[str]]) -> None:
    """Wheels of ``keep``'s packages at other versions removed."""
    for path in wheels.glob("*.whl"):
        name, _, rest = path.name.partition("-")
        name = _canonical(name)
        if name in keep and rest.partition("-")[0] not in keep[name]:
            path.unlink(missing_ok=True)


def _wheel(wheels: Path, name: str, version: str) -> bool:
    return any(wheels.glob(f"{name.replace('-', '_')}-{version}-*.whl"))


@contextmanager
def _alone(path: Path) -> Iterator[None]:
    """One update of a data dir at a time (an advisory ``flock``, dropped with the process)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FerrymanError(
                "update.busy",
                f"another `ferryman update` runs on this data dir ({path}); let it end, then"
                " run `ferryman update` again if it is still needed.",
            ) from None
        yield
    finally:
        os.close(fd)


@contextmanager
def _served() -> Iterator[str]:
    """The smoke set's page and HLS master on loopback, while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, body = _SITE.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in _SITE else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="update-smoke", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _pip(pip: Pip, *words: str) -> subprocess.CompletedProcess[str]:
    return _run(pip.command(*words), PIP_SECONDS)


def _run(command: Sequence[str], seconds: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", f"no answer in {seconds:.0f} s")
    except OSError as exc:
        return subprocess.CompletedProcess(command, 1, "", str(exc))


def _named(versions: Versions | dict[str, str]) -> str:
    return ", ".join(f"{n} {v or '(none)'}" for n, v in versions.items()) or "nothing"


def _pins(versions: Versions) -> str:
    return " ".join(f"{n}=={v}" for n, v in versions.items() if v)


def _asked(name: str) -> str:
    return ASKED[PACKAGES.index(name)]


def _same(imported: object, version: str | None) -> bool:
    """Whether a module's own version is the distribution's (yt-dlp's 2025.01.15 is its
    wheel's 2025.1.15)."""
    try:
        return Version(str(imported)) == Version(str(version))
    except InvalidVersion:
        return str(imported) == str(version)


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(kept[-lines:]) or "(nothing said)"
