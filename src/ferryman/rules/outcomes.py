"""How a job ends: the outcome decided from its items' facts, a pure rule.

The store (``store/jobs/ends``, ``store/memory``) reads each item's state and codes and
writes what ``job_outcome`` answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ferryman.model import ItemState, JobState

PARTLY_DELIVERED = "job.partly_delivered"
NOTHING_DELIVERED = "source.nothing_delivered"

# The items a finishing job's outcome reads; the others were never ended for a reason.
OUTCOME_STATES = frozenset(
    {ItemState.FAILED, ItemState.DELIVERED, ItemState.SKIPPED, ItemState.QUARANTINED}
)


class ItemFact(NamedTuple):
    """An ended item as the outcome sees it."""

    state: ItemState
    error_code: str | None
    reason: str | None
    error_message: str | None


class Outcome(NamedTuple):
    """A job's end: its state, and the code and message it keeps (None: a clean run)."""

    state: JobState
    error_code: str | None = None
    error_message: str | None = None


def job_outcome(error_code: str | None, facts: Iterable[ItemFact]) -> Outcome:
    """The outcome of a job whose items are all terminal.

    A job that holds a code of its own (``error_code``) failed. Otherwise: items that
    failed, with nothing delivered, fail the job with their most common code; with some
    delivered the job is done and still carries that code and the counts, so it does
    not look like a clean run. Items in quarantine and none failed: done with
    ``job.partly_delivered`` and how many were kept back, or, with nothing delivered,
    failed with their most common code. Items skipped for a fault (a registered code,
    ``media.no_decoder``) beside delivered ones: done with that code, not clean. Nothing
    delivered and nothing left out for a fault (an empty input, or files that are not
    media): done, with
    ``source.nothing_delivered`` saying so (a wrong input looked like a clean run).
    """
    if error_code:
        return Outcome(JobState.FAILED)
    delivered = 0
    failed = _Faults()
    kept = _Faults()
    missed = _Faults()  # skipped for a fault, not by anyone's choice (``media.no_decoder``)
    left_out: dict[str, int] = {}
    for state, code, reason, message in facts:
        if state is ItemState.DELIVERED:
            delivered += 1
        elif state is ItemState.FAILED:
            failed.add(code or reason, message)
        elif state is ItemState.QUARANTINED:
            kept.add(code or reason, message)
        elif state is ItemState.SKIPPED:
            why = skip_words(reason or code)
            left_out[why] = left_out.get(why, 0) + 1
            fault = _registered(reason or code)
            if fault is not None:
                missed.add(fault, why)
    if failed.count:
        quarantined = f"{kept.count} quarantined, " if kept.count else ""
        return Outcome(
            JobState.DONE if delivered else JobState.FAILED,
            failed.code,
            f"{failed.count} failed, {quarantined}{delivered} delivered: {failed.message}",
        )
    if kept.count:
        if not delivered:
            message = f"{kept.count} quarantined, 0 delivered: {kept.message}"
            return Outcome(JobState.FAILED, kept.code, message)
        files = f"{kept.count} file{'s' * (kept.count != 1)}"
        return Outcome(
            JobState.DONE,
            PARTLY_DELIVERED,
            f"{files} of {kept.count + delivered} not delivered, kept in"
            f" quarantine ({kept.code}: {kept.message}); {delivered} delivered",
        )
    if delivered and missed.count:  # done, but not clean: `add --run … && rm` must not go on
        files = f"{missed.count} file{'s' * (missed.count != 1)}"
        return Outcome(
            JobState.DONE,
            missed.code,
            f"{files} of {missed.count + delivered} not delivered ({missed.code}:"
            f" {missed.message}); {delivered} delivered",
        )
    if delivered:
        return Outcome(JobState.DONE)
    found_none = "; ".join(f"{n} skipped: {why}" for why, n in sorted(left_out.items()))
    said = f"no photo or video in it ({found_none})" if left_out else "it holds no files"
    return Outcome(JobState.DONE, NOTHING_DELIVERED, f"nothing was delivered: {said}")


_SKIP_WORDS = {
    "not_media": "not a photo or video",
    "junk": "system clutter",
    "camera_raw": "a camera's RAW file, sent as a file only when asked (send_documents)",
    "takeout_sidecar": "a Google Takeout sidecar: its date and place went with its photo",
    "takeout_duplicate": "a Google Takeout photo met in another folder too: kept once",
}


def skip_words(reason: str | None) -> str:
    """Why an entry was skipped, in a person's words (a reason is a code such as
    ``not_media`` or ``unsupported_symlink``, a registered code with its words, as
    ``media.no_decoder: a JPEG XL picture, …``, or already words: ``not chosen``)."""
    if not reason:
        return "no reason given"
    if reason in _SKIP_WORDS:
        return _SKIP_WORDS[reason]
    code, _, said = reason.partition(": ")
    if said and "." in code and " " not in code:  # a registered code and its own words
        return said
    kind = reason.removeprefix("unsupported_")
    if kind != reason:
        return f"a {kind.replace('_', ' ')}, not a file ferryman reads"
    return reason.replace("_", " ")


def _registered(reason: str | None) -> str | None:
    """The registered code a skip's reason starts with (``media.no_decoder: …``): an
    entry left out for a fault; None for a choice (``not_media``, ``junk``, not chosen)."""
    code, _, said = (reason or "").partition(": ")
    return code if said and "." in code and " " not in code else None


class _Faults:
    """Items left out for one kind of fault: how many, the most common code, and the
    first message given for that code."""

    def __init__(self) -> None:
        self.count = 0
        self._codes: dict[str, int] = {}
        self._first: dict[str, str] = {}

    def add(self, code: str | None, message: str | None) -> None:
        key = code or "engine.internal"
        self.count += 1
        self._codes[key] = self._codes.get(key, 0) + 1
        self._first.setdefault(key, message or key)

    @property
    def code(self) -> str:
        return max(self._codes, key=lambda c: self._codes[c])

    @property
    def message(self) -> str:
        return self._first[self.code]
