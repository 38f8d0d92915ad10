"""Presets: named bundles of a link's choices (its output profile: quality, audio format,
subtitles; and a destination), so a person says ``--preset podcast`` instead of the
same flags on every link.

Built-in ones cover the common asks (``mp3``, ``m4a``, ``opus``, ``720p``, ``1080p``,
``best``, ``mute``); a person's own are kept per person in
``<data_dir>/presets/<who>.json`` (``local`` for the machine's own user, the CLI's),
written whole and renamed into place. A person's preset of a built-in's name shadows it.
Blocking (files): call from a thread.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.links.profile import parse_token

FOLDER = "presets"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    token: str | None  # the output profile's token (links.profile); None: the default
    dest: str | None = None  # a destination (``library:``, ``telegram:@me``); None: as asked
    builtin: bool = False

    def describe(self) -> str:
        made = parse_token(self.token).describe() if self.token else "as the link serves it"
        return made + (f", to {self.dest}" if self.dest else "")


BUILTIN = {
    name: Preset(name, token, None, True)
    for name, token in (
        ("mp3", "mp3-192"),
        ("m4a", "m4a"),
        ("opus", "opus-128"),
        ("720p", "video-720"),
        ("1080p", "video-1080"),
        ("best", "video-best"),
        ("mute", "mute-1080"),
    )
}


def _path(data_dir: Path, person: int | None) -> Path:
    return data_dir / FOLDER / f"{'local' if person is None else person}.json"


def own(data_dir: Path, person: int | None) -> dict[str, Preset]:
    """A person's own presets (an unreadable file reads as none)."""
    try:
        found = json.loads(_path(data_dir, person).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        str(name): Preset(str(name), v.get("token"), v.get("dest"))
        for name, v in found.items()
        if isinstance(v, dict)
    }


def every(data_dir: Path, person: int | None) -> list[Preset]:
    """The presets a person can name: the built-in ones, then their own (theirs win)."""
    merged = {**BUILTIN, **own(data_dir, person)}
    return sorted(merged.values(), key=lambda p: (p.builtin, p.name))


def find(data_dir: Path, person: int | None, name: str) -> Preset:
    """The preset ``name`` names for ``person``; ``preset.unknown`` if none."""
    found = {p.name: p for p in every(data_dir, person)}.get(name.strip().lower())
    if found is None:
        known = ", ".join(sorted(p.name for p in every(data_dir, person)))
        raise FerrymanError("preset.unknown", f"no preset '{name}' (there are: {known})")
    return found


def add(data_dir: Path, person: int | None, preset: Preset) -> Preset:
    """Keep ``preset`` as the person's own (replacing one of that name)."""
    name = preset.name.strip().lower()
    if not _NAME.match(name):
        raise FerrymanError(
            "preset.bad_name", f"'{preset.name}': letters, digits, - and _ (up to 32)"
        )
    if preset.token is None and preset.dest is None:
        raise FerrymanError("preset.bad_name", f"'{name}' would choose nothing")
    if preset.token is not None:
        parse_token(preset.token)  # link.bad_profile when it is none
    kept = own(data_dir, person)
    kept[name] = Preset(name, preset.token, preset.dest)
    _write(data_dir, person, kept)
    return kept[name]


def remove(data_dir: Path, person: int | None, name: str) -> None:
    kept = own(data_dir, person)
    if kept.pop(name.strip().lower(), None) is None:
        raise FerrymanError("preset.unknown", f"'{name}' is not one of your presets")
    _write(data_dir, person, kept)


def _write(data_dir: Path, person: int | None, kept: dict[str, Preset]) -> None:
    path = _path(data_dir, person)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {p.name: {"token": p.token, "dest": p.dest} for p in kept.values()}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
