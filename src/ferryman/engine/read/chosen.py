"""A job limited to the entries a person chose (the chat's "Choose files").

A job whose entries are to be chosen carries the memo ``HOLD``: the fetch stage, its
input downloaded, pauses it (waiting for ``HOLD``) in the transaction that ends the
fetch, so nothing is read before the choice; the choice (``store.hold_ended``) writes
the chosen paths as the memo ``MEMO`` and lets it go on in one transaction. Reading the
input, every other entry is recorded skipped (``not chosen``) without its bytes being
read, so the job's report says what was left and a restart reads the same choice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from ferryman.sources.base import SourceEntry

MEMO = "chosen"
HOLD = "job.choosing"  # the memo (and the held job's wait reason, a registered code)
NOT_CHOSEN = "not chosen"


def memo_of(paths: list[str]) -> dict[str, str]:
    """The memos that limit a job to ``paths`` (entry paths as the input lists them)."""
    return {MEMO: json.dumps(sorted(set(paths)))}


def only_chosen(entries: Iterator[SourceEntry], memo: str | None) -> Iterator[SourceEntry]:
    """``entries`` with those not in the memo's choice skipped; all of them without one."""
    if memo is None:
        return entries
    return _Chosen(entries, frozenset(json.loads(memo)))


class _Chosen:
    """The input's entries, the unchosen ones marked skipped; ``close`` closes the
    input's (which removes a nested archive's copy), started or not."""

    def __init__(self, entries: Iterator[SourceEntry], paths: frozenset[str]) -> None:
        self._entries = entries
        self._paths = paths

    def __iter__(self) -> Iterator[SourceEntry]:
        return self

    def __next__(self) -> SourceEntry:
        entry = next(self._entries)
        if entry.info.path in self._paths or entry.skip is not None or entry.error is not None:
            return entry
        return replace(entry, skip=NOT_CHOSEN)

    def close(self) -> None:
        close = getattr(self._entries, "close", None)
        if close is not None:
            close()
