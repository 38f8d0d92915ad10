"""``ferryman doctor``'s look at the Python packages: each requirement ferryman's own
metadata declares (the wheel's ``Requires-Dist``, as pip installed it), installed here
at a version it accepts, or not. A package missing from an install made by hand (a
copied tree, a venv built with ``--no-deps``) was a traceback deep in a run; here it is
named, with the command that mends it. ``packaging`` reads the requirements and their
markers as pip does."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True, slots=True)
class Needed:
    name: str
    wanted: str  # the version specifier, "" for any
    installed: str | None  # None: not installed
    extra: str | None = None  # the extra that asks for it; None: always needed

    @property
    def ok(self) -> bool:
        if self.installed is None:
            return False
        return Requirement(f"{self.name}{self.wanted}").specifier.contains(
            self.installed, prereleases=True
        )


def requirements(dist: str = "ferryman", extras: tuple[str, ...] = ("ffmpeg",)) -> list[Needed]:
    """Every requirement of ``dist`` that applies on this machine (its markers), with the
    version installed; ``extras``' too, marked with their extra. Raises
    ``PackageNotFoundError`` when ``dist`` itself is not installed (run from a tree)."""
    found: list[Needed] = []
    for text in metadata.requires(dist) or []:
        try:
            wanted = Requirement(text)
        except InvalidRequirement:
            continue
        extra = next((e for e in ("", *extras) if _applies(wanted, e)), None)
        if extra is None:
            continue
        try:
            installed: str | None = metadata.version(wanted.name)
        except metadata.PackageNotFoundError:
            installed = None
        found.append(Needed(wanted.name, str(wanted.specifier), installed, extra or None))
    return found


def _applies(wanted: Requirement, extra: str) -> bool:
    return wanted.marker is None or wanted.marker.evaluate({"extra": extra})


def as_json(found: list[Needed]) -> list[dict[str, object]]:
    return [
        {
            "name": n.name,
            "wanted": n.wanted,
            "installed": n.installed,
            "extra": n.extra,
            "ok": n.ok,
        }
        for n in found
    ]


def lines(found: list[Needed]) -> list[tuple[str, bool]]:
    """What doctor prints: one line for the whole when all is well, else one per
    package not right; each with whether it is a fault (an optional extra's is not)."""
    needed = [n for n in found if n.extra is None]
    missing = [n for n in needed if not n.ok]
    said = [
        (
            f"python packages: {len(needed) - len(missing)} of {len(needed)} ferryman needs"
            " are installed as it asks",
            not missing,
        )
    ]
    for n in missing:
        has = f"{n.installed} installed" if n.installed else "not installed"
        said.append((f"  {n.name}{n.wanted}: {has}; pip install '{n.name}{n.wanted}'", False))
    for n in found:
        if n.extra is not None and not n.ok:
            said.append((f"  optional {n.name} (ferryman[{n.extra}]): not installed", True))
    return said
