"""Choose files: an archive's entries listed by folder, ten a page with their sizes; the
chosen ones become one job (``engine.plumbing.chosen``), the others are left alone.

The list is read from the downloaded archive without unpacking anything (headers only;
an archive inside is opened in its place, as the job will), with the settings'
passwords: a zip or RAR whose names are not locked lists without one, and the job asks
for the password (``/pass``) as any other; one that cannot be listed (names locked)
comes whole instead (``callbacks``). Volume sets read as the job reads them.

A bot shows a page as buttons (each file toggles, pages turn, "Deliver" makes the job);
a user account gets the page as numbered lines and replies with the numbers to deliver
(``1 3 5-7``), or ``next`` / ``prev``; Drop (``drop``) deletes the download instead.
While a person chooses, nothing of the archive is read; what they ticked is kept
beside the download (``.choose.json``), so a restart shows the list again with the
same ticks. Nobody choosing: the list waits (the person asked for it).
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ferryman.archive.reader import ArchiveLimits, EntryType, OpenOptions
from ferryman.config import Settings
from ferryman.frontdoors.telegram.choices import Offer, Option
from ferryman.frontdoors.telegram.render import size_text
from ferryman.sources.base import ReadOptions
from ferryman.sources.local import iter_local

PAGE = 10  # entries a page
STATE = ".choose.json"  # beside the download, in its own inbox folder
_RANGE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")


@dataclass(frozen=True, slots=True)
class Listed:
    path: str
    size: int | None


def listing_options(settings: Settings) -> ReadOptions:
    """How the list is read: the settings' passwords and limits, as a job reads."""
    limits = ArchiveLimits(**settings.archive.model_dump(exclude={"sevenzip"}))
    return ReadOptions(
        archive=OpenOptions(passwords=tuple(settings.passwords), limits=limits),
        sevenzip=settings.archive.sevenzip,
        network=settings.network,
        settings=settings,
    )


# Python's own table (not the system's mime.types: the same answer on every machine),
# and the media suffixes it lacks.
_TYPES = mimetypes.MimeTypes(filenames=())
_MEDIA_TOO = frozenset(
    {".mkv", ".ts", ".m2ts", ".mts", ".jxl", ".m4a", ".flac", ".dng", ".heif", ".hif"}
)


def media_name(path: str) -> bool:
    """Whether a file's name says photo, video or sound (the list is read from headers
    only: no bytes to sniff; the job classifies each file by its bytes as ever)."""
    if PurePosixPath(path).suffix.lower() in _MEDIA_TOO:
        return True
    guessed = _TYPES.guess_type(posixpath.basename(path), strict=False)[0] or ""
    return guessed.partition("/")[0] in ("image", "video", "audio")


def list_archive(path: Path, options: ReadOptions, documents: bool = True) -> list[Listed]:
    """The files of the archive at ``path`` as the job will read them (blocking); only
    its photos, videos and sounds unless ``documents`` (``send_documents``): the others
    would not be delivered, so offering them is a choice that does nothing."""
    found: list[Listed] = []
    with iter_local(path, options) as entries:
        for entry in entries:
            info = entry.info
            readable = entry.skip is None and entry.error is None
            if readable and info.type is EntryType.FILE and (documents or media_name(info.path)):
                found.append(Listed(info.path, info.size))
    found.sort(key=lambda e: (posixpath.dirname(e.path).casefold(), e.path.casefold()))
    return found


@dataclass(slots=True)
class Picking:
    """One archive's list while its files are chosen."""

    row_id: int
    chat_id: int
    reply_to: int  # the message with the file
    name: str
    entries: list[Listed]
    chosen: set[int] = field(default_factory=set)  # indexes into entries
    page: int = 0
    message_id: int | None = None  # the list's message

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.entries) // PAGE))

    def on_page(self) -> range:
        start = self.page * PAGE
        return range(start, min(start + PAGE, len(self.entries)))

    def turn(self, page: int) -> None:
        self.page = min(max(page, 0), self.pages - 1)

    def toggle(self, index: int) -> None:
        if 0 <= index < len(self.entries):
            self.chosen ^= {index}

    def choose_all(self, every: bool) -> None:
        """All files chosen (``every``), or none."""
        self.chosen = set(range(len(self.entries))) if every else set()

    def chosen_paths(self) -> list[str]:
        return [self.entries[i].path for i in sorted(self.chosen)]

    # ------------------------------------------------------------ drawing

    def text(self, bot: bool) -> str:
        """The page: a header, then (a user account's) its entries under their folders;
        a bot's buttons are the entries, so its text does not list them again."""
        picked = len(self.chosen)
        size = sum(self.entries[i].size or 0 for i in self.chosen)
        head = (
            f"{self.name}: {len(self.entries)} files, page {self.page + 1} of {self.pages};"
            f" {picked} chosen ({size_text(size)})"
        )
        if bot:
            return "\n".join(
                [head, *self._folders(), "tick files (All, None), then Deliver (Drop: none)"]
            )
        lines = [head]
        folder: str | None = None
        for i in self.on_page():
            entry = self.entries[i]
            here = posixpath.dirname(entry.path)
            if here != folder:
                folder = here
                lines.append(f"{here}/" if here else "(top)")
            mark = "✓" if i in self.chosen else "·"
            lines.append(f"  {mark} {i + 1}. {posixpath.basename(entry.path)} {_size(entry.size)}")
        lines.append(
            "reply with the numbers to deliver (1 3 5-7) or all, next / prev, or drop (none)"
        )
        return "\n".join(lines)

    def _folders(self) -> list[str]:
        """The folders of the page's files with their numbers: ``trip/day1/ 1-7``."""
        spans: list[tuple[str, int, int]] = []
        for i in self.on_page():
            here = posixpath.dirname(self.entries[i].path)
            if spans and spans[-1][0] == here:
                spans[-1] = (here, spans[-1][1], i + 1)
            else:
                spans.append((here, i + 1, i + 1))
        return [
            f"{f'{here}/' if here else '(top)'} {low}" + (f"-{high}" if high > low else "")
            for here, low, high in spans
        ]

    def offer(self) -> Offer:
        """A bot's buttons: one per file on the page, the pages, Deliver."""
        n = self.row_id
        rows: list[tuple[Option, ...]] = []
        for i in self.on_page():
            entry = self.entries[i]
            mark = "✓" if i in self.chosen else "·"
            label = f"{mark} {i + 1}. {posixpath.basename(entry.path)} {_size(entry.size)}"
            rows.append((Option(label[:60], f"c:{n}:t{i}"),))
        turns: list[Option] = []
        if self.page > 0:
            turns.append(Option("◀ prev", f"c:{n}:p{self.page - 1}"))
        if self.page + 1 < self.pages:
            turns.append(Option("next ▶", f"c:{n}:p{self.page + 1}"))
        if turns:
            rows.append(tuple(turns))
        rows.append((Option("All", f"c:{n}:all"), Option("None", f"c:{n}:none")))
        rows.append(
            (Option(f"Deliver {len(self.chosen)} chosen", f"c:{n}:go"), Option("Drop", f"c:{n}:x"))
        )
        return Offer(tuple(rows))

    # ------------------------------------------------------------ keeping

    def save(self, folder: Path) -> None:
        state = {"chosen": self.chosen_paths(), "page": self.page}
        (folder / STATE).write_text(json.dumps(state))

    def restore(self, folder: Path) -> None:
        try:
            state = json.loads((folder / STATE).read_text())
        except (OSError, ValueError):
            return
        wanted = set(state.get("chosen", []))
        self.chosen = {i for i, e in enumerate(self.entries) if e.path in wanted}
        self.turn(int(state.get("page", 0)))


def asked(folder: Path) -> bool:
    """Whether the person asked to choose this download's files (and has not yet)."""
    return (folder / STATE).exists()


def ask(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not asked(folder):
        (folder / STATE).write_text("{}")


def forget(folder: Path) -> None:
    (folder / STATE).unlink(missing_ok=True)


def numbers(text: str, count: int) -> set[int] | None:
    """``1 3 5-7`` as 0-based indexes below ``count``; None if the text is no such list."""
    words = text.replace(",", " ").strip()
    if not words or not re.fullmatch(r"[\d\s\-]+", words):
        return None
    picked: set[int] = set()
    for found in _RANGE.finditer(words):
        low = int(found.group(1))
        high = int(found.group(2) or low)
        picked |= {i - 1 for i in range(low, high + 1) if 1 <= i <= count}
    return picked


def _size(size: int | None) -> str:
    return size_text(size) if size is not None else "?"
