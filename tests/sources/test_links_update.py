"""``ferryman update`` (``links/update.py``) against wheel files made here: a good yt-dlp
is kept, a broken one (its import fails, or its extraction finds nothing) is rolled
back from the kept wheels with the index no longer offering the good one; the smoke set
passes with the real yt-dlp ferryman runs."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app
from ferryman.links import update as updating
from ferryman.links.update import WHEELS, Pip, installed, smoke, update

# A yt-dlp that reads the smoke set's page and HLS master as yt-dlp does (enough of it).
GOOD = """
import re, urllib.request
from urllib.parse import urljoin


class YoutubeDL:
    def __init__(self, params=None):
        self.params = params or {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def extract_info(self, url, download=True):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        body = opener.open(url, timeout=30).read().decode()
        if url.endswith(".m3u8"):
            found = [line for line in body.splitlines() if line and not line.startswith("#")]
        else:
            found = re.findall(r'<video src="([^"]+)"', body)
        return {"formats": [{"url": urljoin(url, src)} for src in found]}
"""
IMPORT_FAILS = "raise ImportError('this yt-dlp is broken')\n"
FINDS_NOTHING = GOOD.replace("for src in found]", "for src in found[:0]]")


def _wheel(folder: Path, name: str, version: str, files: dict[str, str], extra: str = "") -> Path:
    """A wheel of ``files`` (path -> text) as pip installs it."""
    dist = f"{name.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}"
    wheel = (
        "Wheel-Version: 1.0\nGenerator: ferryman-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    members = {**files, f"{dist}.dist-info/METADATA": meta, f"{dist}.dist-info/WHEEL": wheel}
    record = []
    for path, text in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    members[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in members.items():
            zf.writestr(member, text)
    return path


def _yt_dlp(folder: Path, version: str, code: str) -> Path:
    files = {"yt_dlp/__init__.py": code, "yt_dlp/version.py": f"__version__ = {version!r}\n"}
    return _wheel(folder, "yt-dlp", version, files, "Provides-Extra: default\n")


def _ejs(folder: Path, version: str) -> Path:
    return _wheel(folder, "yt-dlp-ejs", version, {"yt_dlp_ejs/__init__.py": ""})


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path, Pip]:
    """A throwaway environment (no pip of its own: ferryman's runs its pip) holding
    yt-dlp 2025.1.1 and yt-dlp-ejs 0.1, the index folder, and the pip that updates it."""
    index = tmp_path / "index"
    index.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv"], check=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    pip = Pip(python=python, runner=sys.executable, find_links=(str(index),), no_index=True)
    _yt_dlp(index, "2025.1.1", GOOD)
    _ejs(index, "0.1")
    done = subprocess.run(
        pip.command("install", *pip.index(), "yt-dlp==2025.1.1", "yt-dlp-ejs==0.1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return index, tmp_path / "data", pip


@pytest.mark.slow  # ~30 runs of pip and of Python: 43-56 s on a loaded machine, 12 CPU-s
def test_a_good_version_is_kept_and_a_broken_one_rolled_back_offline_and_the_command_says_so(
    env: tuple[Path, Path, Pip], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update kept, then two broken ones rolled back from the kept wheels with the index
    no longer offering the good one. The kept one and the first rolled back go through
    `ferryman update --json` on the throwaway environment (its Pip made for it, run by
    this one's pip): exit 0 and its JSON, then exit 1, the outcome on stdout and
    update.rolled_back on stderr, each as JSON. (One test, not one for ``update()`` and
    one for the command: each update is ~8 runs of pip and of Python.)"""
    index, data, pip = env
    assert installed(pip.python) == {"yt-dlp": "2025.1.1", "yt-dlp-ejs": "0.1"}
    assert update(data, pip, check=True, said=lambda _: None).outcome == "current"

    _yt_dlp(index, "2025.2.1", GOOD)
    _ejs(index, "0.2")
    checked = update(data, pip, check=True, said=lambda _: None)
    assert (checked.outcome, checked.after["yt-dlp"]) == ("available", "2025.2.1")
    assert installed(pip.python)["yt-dlp"] == "2025.1.1"  # a check changes nothing

    monkeypatch.setattr(
        updating, "Pip", lambda _python, _runner, *rest: Pip(pip.python, pip.runner, *rest)
    )
    steps: list[str] = []  # what the update said to the command (`--json` prints none)

    def heard(*args: Any, said: Callable[[str], None], **kwargs: Any) -> updating.Outcome:
        return update(*args, said=lambda step: (steps.append(step), said(step)), **kwargs)

    monkeypatch.setattr(updating, "update", heard)
    words = ["--data-dir", str(data), "update", "--no-index", "--find-links", str(index)]
    kept = CliRunner().invoke(app, [*words, "--json"])
    assert kept.exit_code == 0, kept.output
    said = json.loads(kept.stdout)
    assert said["outcome"] == "updated", said
    assert said["after"] == {"yt-dlp": "2025.2.1", "yt-dlp-ejs": "0.2"}
    assert any(step.startswith("trying yt-dlp 2025.2.1") for step in steps), steps
    wheels = sorted(p.name for p in (data / WHEELS).glob("yt_dlp-*.whl"))
    assert wheels == ["yt_dlp-2025.1.1-py3-none-any.whl", "yt_dlp-2025.2.1-py3-none-any.whl"]
    plain = CliRunner().invoke(app, [*words, "--check"])
    assert plain.stdout.strip() == "yt-dlp 2025.2.1 is the newest the index has"

    # The index offers only a broken yt-dlp now: the good one comes back from the kept wheel.
    for path in index.glob("yt_dlp-*.whl"):
        path.unlink()
    _yt_dlp(index, "2025.3.1", IMPORT_FAILS)
    back = CliRunner().invoke(app, [*words, "--json"])
    assert back.exit_code == 1, back.output
    said = json.loads(back.stdout)
    assert said["outcome"] == "rolled_back", said
    assert "this yt-dlp is broken" in said["trial"]
    assert said["after"] == {"yt-dlp": "2025.2.1", "yt-dlp-ejs": "0.2"}
    assert smoke(pip.python, said["after"]) is None  # what is back works
    (error,) = [json.loads(line) for line in back.stderr.splitlines() if line.startswith("{")]
    assert error["error"]["code"] == "update.rolled_back"
    assert "this yt-dlp is broken" in error["error"]["message"]
    assert "ferryman update" in error["error"]["next"]

    _yt_dlp(index, "2025.4.1", FINDS_NOTHING)
    again = update(data, pip, said=lambda _: None)
    assert again.outcome == "rolled_back", again
    assert "did not find /clip.mp4" in again.trial
    assert installed(pip.python) == {"yt-dlp": "2025.2.1", "yt-dlp-ejs": "0.2"}


def test_nothing_changes_while_another_update_runs_without_a_kept_wheel_or_pip(
    env: tuple[Path, Path, Pip],
) -> None:
    index, data, pip = env
    (index / "yt_dlp-2025.1.1-py3-none-any.whl").unlink()  # not offered any more
    _yt_dlp(index, "2025.2.1", GOOD)
    (data / "updates").mkdir(parents=True)
    with open(data / "updates" / "update.lock", "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another update runs
        with pytest.raises(updating.FerrymanError) as caught:
            update(data, pip, said=lambda _: None)
        assert caught.value.code == "update.busy"
    with pytest.raises(updating.FerrymanError) as caught:
        update(data, pip, said=lambda _: None)
    assert caught.value.code == "update.keep_failed"
    assert installed(pip.python)["yt-dlp"] == "2025.1.1"
    # Updated by its own pip, which it lacks (a `uv tool` install): told how instead.
    own = Pip(python=pip.python, runner=pip.python, find_links=pip.find_links, no_index=True)
    with pytest.raises(updating.FerrymanError) as caught:
        update(data, own, said=lambda _: None)
    assert caught.value.code == "update.no_pip" and "uv tool upgrade" in caught.value.message


def test_the_smoke_set_passes_with_the_real_yt_dlp() -> None:
    versions = installed(sys.executable)
    assert versions["yt-dlp"] is not None
    assert smoke(sys.executable, versions) is None
    assert smoke(sys.executable, {"yt-dlp": "1999.1.1"}) == (
        f"yt-dlp {__import__('yt_dlp').version.__version__} was imported, not 1999.1.1"
    )
