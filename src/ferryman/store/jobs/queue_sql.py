"""Where each queued job stands in line, as SQL text both stores run: the full store
through SQLAlchemy (``turns.queue_places``, on SQLite and PostgreSQL) and the light
store through ``sqlite3`` (``ferryman status``, which must not import SQLAlchemy). One
copy of the query, so the web's ``in_line`` and the CLI's figure cannot drift apart.

The order is the claims' (``base._claim_statement``): fetches by priority then age;
reads by priority, then the job furthest behind (fewest entries read), then age.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ferryman.model import JobState

DOWNLOADS, READING = "downloads", "reading"
# The fetches table's states (``store.fetches``, which imports SQLAlchemy).
_FETCH_QUEUED, _FETCHING, _FETCH_DONE = "queued", "fetching", "done"
_QUEUED, _READING = JobState.QUEUED.value, JobState.READING.value

# Fetches of queued, unpaused jobs: under way, or due (not waiting for a retry).
FETCH_LINE = f"""
SELECT f.job_id, f.state FROM fetches AS f JOIN jobs AS j ON j.id = f.job_id
WHERE NOT j.paused AND j.state = '{_QUEUED}'
  AND (f.state = '{_FETCHING}' OR (f.state = '{_FETCH_QUEUED}' AND f.not_before <= :now))
ORDER BY f.priority DESC, f.id
"""
BUSY_READS = f"SELECT count(*) FROM jobs WHERE state = '{_READING}'"
# Jobs the unpack stage could claim now (``claim_job``'s conditions, ``turns._readable``).
READ_LINE = f"""
SELECT j.id FROM jobs AS j
WHERE j.state = '{_QUEUED}' AND NOT j.paused AND j.not_before <= :now
  AND NOT EXISTS (SELECT 1 FROM fetches AS f WHERE f.job_id = j.id AND f.state != '{_FETCH_DONE}')
ORDER BY j.priority DESC, j."cursor", j.id
"""


def places_of(
    in_fetch: Iterable[tuple[int, str]], reading: int, to_read: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Per job waiting only for its turn: ``{"reason": "downloads" or "reading",
    "ahead": N}``, N being the units in progress in that stage plus those before it in
    line. From the rows of ``FETCH_LINE`` (job, state), ``BUSY_READS`` and ``READ_LINE``."""
    fetch_rows = list(in_fetch)
    downloading = sum(1 for _job, state in fetch_rows if state == _FETCHING)
    places: dict[int, dict[str, Any]] = {}
    waiting = (job for job, state in fetch_rows if state == _FETCH_QUEUED)
    for place, job_id in enumerate(waiting):
        places[job_id] = {"reason": DOWNLOADS, "ahead": downloading + place}
    for place, job_id in enumerate(to_read):
        places[job_id] = {"reason": READING, "ahead": reading + place}
    return places
