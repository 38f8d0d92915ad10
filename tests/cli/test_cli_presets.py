"""Presets on the command line (issue 80): built-in ones for the common asks, a person's
own kept, listed and removed, and ``add --preset NAME`` taking their choices (what is
given on the command line wins)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ferryman.links import presets
from ferryman.links.profile import Output, Profile, parse_token
from tests.support import forked


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return forked.run(
        ["--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=os.environ | {"FERRYMAN_SPACE_FLOOR": "0"},
        timeout=120,
    )


def _added(data: Path, *args: str) -> dict[str, str]:
    done = cli(data, "--json", "add", "https://youtu.be/abcdefghijk", *args)
    assert done.returncode == 0, done.stderr
    job: dict[str, str] = json.loads(done.stdout.splitlines()[0])["job"]
    return job


def test_a_preset_is_kept_listed_taken_by_add_and_removed(tmp_path: Path) -> None:
    made = cli(tmp_path, "preset", "add", "Pod", "--audio", "mp3", "--bitrate", "128",
               "--subs", "en", "--to", "library:/srv/pods")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "preset pod: MP3 128 kbps, subtitles en, to library:/srv/pods" in made.stdout
    rows = json.loads(cli(tmp_path, "preset", "list", "--json").stdout)
    assert rows[0] == {
        "name": "pod",
        "profile": "mp3-128+subs-en",
        "dest": "library:/srv/pods",
        "builtin": False,
    }
    assert {"mp3", "720p", "best"} <= {r["name"] for r in rows if r["builtin"]}

    job = _added(tmp_path, "--preset", "pod")
    assert job["dest"] == "library:/srv/pods"
    assert job["source"].endswith("as MP3 128 kbps, subtitles en")
    # What the command line says wins over the preset's.
    other = _added(tmp_path / "b", "--preset", "720p", "--to", "library:/elsewhere")
    assert other["dest"] == "library:/elsewhere" and "720p" in other["source"]

    assert cli(tmp_path, "preset", "remove", "pod").returncode == 0
    gone = cli(tmp_path, "add", "https://youtu.be/abcdefghijk", "--preset", "pod")
    assert gone.returncode != 0 and "preset.unknown" in gone.stderr + gone.stdout


def test_a_bad_preset_is_refused_with_its_code(tmp_path: Path) -> None:
    bad = cli(tmp_path, "preset", "add", "two words", "--audio", "mp3")
    assert bad.returncode != 0 and "preset.bad_name" in bad.stderr + bad.stdout
    empty = cli(tmp_path, "preset", "add", "nothing")
    assert empty.returncode != 0 and "would choose nothing" in empty.stderr + empty.stdout
    assert cli(tmp_path, "preset", "remove", "mp3").returncode != 0  # a built-in stays


def test_built_in_presets_and_a_persons_own_are_apart(tmp_path: Path) -> None:
    assert parse_token(presets.find(tmp_path, None, "MP3").token or "") == Profile(
        Output.MP3, None, 192
    )
    presets.add(tmp_path, 7, presets.Preset("mp3", "mp3-320", None))
    assert presets.find(tmp_path, 7, "mp3").token == "mp3-320"  # theirs shadows it
    assert presets.find(tmp_path, None, "mp3").token == "mp3-192"  # not another's
    assert presets.find(tmp_path, 8, "mp3").token == "mp3-192"
