"""How far a job's bar stands: the rule behind every view's ``progress.fraction``
(``web.live``), from the store's item counts and how much of its download the bus said
arrived. Pure, so that the tracker's two uses (what to show, and whether what was shown
is more than the store alone would give and must be kept) cannot drift apart."""

from __future__ import annotations

from ferryman.model import Job, JobState

FETCH_SHARE = 0.9  # of a fetched job's bar: the download (and making) before its items


def bar_fraction(
    job: Job, fetched: float | None, finished: int, total: int, by_state: dict[str, int]
) -> float:
    """``fetched``: the share of its download the bus reported (None: nothing downloaded
    first, or not seen here); ``finished`` of ``total`` items ended."""
    if job.state is JobState.DONE:
        return 1.0
    if job.state.terminal:
        # Failed or cancelled: the bar stays where it was (the tracker keeps the highest
        # shown), and after a restart, when nothing was shown yet, where the store says:
        # the items that finished (a cancelled job's bar dropped from 3 % to 0 %).
        ended = by_state.get("delivered", 0) + by_state.get("skipped", 0)
        return min(ended / total, 0.999) if total else 0.0
    # Items finished of those found; while the input is still being read more may
    # come, so that share holds back a tenth (the bar only rises).
    items = finished / total if total else 0.0
    if not job.read_done:
        items *= 0.9
    if fetched is None:
        return min(items, 0.999)
    if job.read_done or job.state is JobState.READING:
        fetched = 1.0  # reading it: the download is whole
    return min(FETCH_SHARE * fetched + (1 - FETCH_SHARE) * items, 0.999)
