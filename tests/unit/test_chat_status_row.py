"""The chat's ``/status`` line: done is not delivered, so what was left out says so."""

from __future__ import annotations

from typing import Any

from ferryman.frontdoors.telegram.render import job_row


def _job(**counts: int) -> dict[str, Any]:
    c = {"total": 11, "pending": 0, "delivered": 11, "skipped": 0, "quarantined": 0, "failed": 0}
    return {
        "id": 4,
        "name": "trip",
        "state": "done",
        "paused": False,
        "waiting": None,
        "error": None,
        "counts": {**c, **counts},
    }


def test_a_job_with_files_left_out_says_how_many() -> None:
    assert job_row(_job(delivered=2, skipped=9)) == "4 trip: done, 11/11 files (9 skipped)"
    assert (
        job_row(_job(delivered=8, skipped=1, quarantined=1, failed=1))
        == "4 trip: done, 11/11 files (1 skipped, 1 quarantined, 1 failed)"
    )


def test_a_job_that_delivered_everything_reads_as_before() -> None:
    assert job_row(_job()) == "4 trip: done, 11/11 files"
