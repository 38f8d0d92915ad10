"""A job limited to the entries a person chose (the chat's "Choose files").

A job whose entries are to be chosen carries the memo ``HOLD``: the fetch stage, its
input downloaded, pauses it (waiting for ``HOLD``) in the transaction that ends the
fetch, so nothing is read before the choice; the choice (``store.hold_ended``) writes
the chosen paths as the memo ``MEMO`` and lets it go on in one transaction. Reading the
input, every other entry is recorded skipped (``not chosen``) without its bytes being
read, so the job's report says what was left and a restart reads the same choice.
An entry the list did not offer (not media, when only media are listed) was no choice
of the person's: it is read as ever and skipped for its own reason (``not media``), so
the report's counts agree with the list's ("10 files… 2 chosen… 8 left alone").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from ferryman.sources.base import SourceEntry

MEMO = "chosen"
HOLD = "job.choosing"  # the memo (and the held job's wait reason, a registered code)
NOT_CHOSEN = "not chosen"


def memo_of(paths: list[str], offered: list[str] | None = None) -> dict[str, str]:
    """The memos that limit a job to ``paths`` (entry paths as the input lists them) of
    those ``offered`` (None: of every entry)."""
    chosen = sorted(set(paths))
    if offered is None:
        return {MEMO: json.dumps(chosen)}
    return {MEMO: json.dumps({"chosen": chosen, "offered": sorted(set(offered))})}


def only_chosen(entries: Iterator[SourceEntry], memo: str | None) -> Iterator[SourceEntry]:
    """``entries`` with those offered and not chosen skipped; all of them without a memo.
    A memo of a list (before the offer was kept) offered every entry."""
    if memo is None:
        return entries
    said = json.loads(memo)
    if isinstance(said, list):
        return _Chosen(entries, frozenset(said), None)
    return _Chosen(entries, frozenset(said["chosen"]), frozenset(said["offered"]))


class _Chosen:
    """The input's entries, the unchosen ones marked skipped; ``close`` closes the
    input's (which removes a nested archive's copy), started or not."""

    def __init__(
        self,
        entries: Iterator[SourceEntry],
        paths: frozenset[str],
        offered: frozenset[str] | None,
    ) -> None:
        self._entries = entries
        self._paths = paths
        self._offered = offered

    def __iter__(self) -> Iterator[SourceEntry]:
        return self

    def __next__(self) -> SourceEntry:
        entry = next(self._entries)
        if entry.info.path in self._paths or entry.skip is not None or entry.error is not None:
            return entry
        if self._offered is not None and entry.info.path not in self._offered:
            return entry  # never offered: skipped, if at all, for its own reason
        return replace(entry, skip=NOT_CHOSEN)

    def close(self) -> None:
        close = getattr(self._entries, "close", None)
        if close is not None:
            close()
