"""How each site's extractor fares: successes and failures by code, for ``ferryman doctor``
("youtube: 3 of 10 failed with source.bot_check in the last hour").

One JSON line per finished link in ``<data_dir>/links-health.jsonl`` (appends of one
short line are atomic, so several processes may write); lines older than a day are
dropped when the file grows past ``MAX_BYTES``. Blocking: call from a thread.

A line carries the account of the person whose job it was (``a``; none for an
administrator's, the CLI's or the machine's chat users'): which sites a person used and
when is theirs, so ``/api/v1/sites`` shows a person their own lines only
(``summary``'s ``sees``); an administrator, ``doctor`` and ``/healthz`` see all.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

FILE = "links-health.jsonl"
MAX_BYTES = 256 * 1024
KEEP_SECONDS = 86400.0


@dataclass(slots=True)
class Tally:
    extractor: str
    total: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    last_at: float = 0.0  # the latest link's end, and its code (None: it came)
    last_code: str | None = None

    def line(self, window: str) -> str:
        if not self.failed:
            return f"{self.extractor}: {self.total} of {self.total} fine {window}"
        parts = ", ".join(f"{n} with {code}" for code, n in self.failed.most_common())
        failed = sum(self.failed.values())
        return f"{self.extractor}: {failed} of {self.total} failed ({parts}) {window}"


def record(
    data_dir: Path,
    extractor: str,
    code: str | None,
    now: float | None = None,
    account: int | None = None,
) -> None:
    """One finished link (``account``: the person whose job it was, None for work of
    no person's)."""
    path = data_dir / FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    entry: dict[str, object] = {"at": now or time.time(), "x": extractor.lower(), "code": code}
    if account is not None:
        entry["a"] = account
    line = json.dumps(entry)
    with open(path, "a") as f:
        f.write(line + "\n")
    if path.stat().st_size > MAX_BYTES:
        _trim(path, (now or time.time()) - KEEP_SECONDS)


def summary(
    data_dir: Path, since: float, sees: Callable[[int | None], bool] | None = None
) -> list[Tally]:
    """Per extractor, what happened after ``since`` (most used first); ``sees``: whose
    lines count (``ops/who.Who.sees``: a person's own; None: everyone's)."""
    tallies: dict[str, Tally] = {}
    for entry in _read(data_dir / FILE):
        if float(entry.get("at", 0) or 0) < since:  # type: ignore[arg-type]
            continue
        if sees is not None and not sees(_account(entry)):
            continue
        name = str(entry.get("x") or "generic")
        tally = tallies.setdefault(name, Tally(name))
        tally.total += 1
        code = str(entry["code"]) if entry.get("code") else None
        if code:
            tally.failed[code] += 1
        at = float(entry.get("at", 0) or 0)  # type: ignore[arg-type]
        if at >= tally.last_at:
            tally.last_at, tally.last_code = at, code
    return sorted(tallies.values(), key=lambda t: -t.total)


def _account(entry: dict[str, object]) -> int | None:
    """The person a line is of (None: no person's, or a line written before accounts)."""
    found = entry.get("a")
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _read(path: Path) -> list[dict[str, object]]:
    try:
        text = path.read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            found.append(entry)
    return found


def _trim(path: Path, since: float) -> None:
    kept = [json.dumps(e) for e in _read(path) if float(e.get("at", 0) or 0) >= since]  # type: ignore[arg-type]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    tmp.replace(path)


@dataclass(frozen=True, slots=True)
class Extractors:
    """yt-dlp as installed: its version (a release date), how old it is, and how to
    update it (sites change; an old yt-dlp is the usual cause of ``source.changed``)."""

    version: str | None
    age_days: int | None
    update: str

    @property
    def stale(self) -> bool:
        return self.age_days is None or self.age_days > 60


def extractors(now: float | None = None) -> Extractors:
    update = "ferryman update"
    try:  # as installed (what a process started now runs), without importing yt-dlp
        version = metadata.version("yt-dlp")
    except metadata.PackageNotFoundError:
        return Extractors(None, None, update)
    try:
        released = date(*(int(part) for part in version.split(".")[:3]))
    except (TypeError, ValueError):
        return Extractors(version, None, update)
    today = datetime.fromtimestamp(now or time.time(), UTC).date()
    return Extractors(version, (today - released).days, update)
