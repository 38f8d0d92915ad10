"""``ferryman status`` while an album waits for a conversion in its place
(``convert.album_wait_seconds``): its ready files stand still, and the job's row says
why, not only "active" with a pending count that does not move (a trial: seven photos
of a folder held 15 s for one HEVC video, and status said nothing)."""

from __future__ import annotations

from ferryman.engine.ops.report import job_status
from ferryman.frontdoors.terminal import state_cell
from ferryman.model import Job, JobState


def _job(state: JobState) -> Job:
    return Job(1, "/srv/in", "in", "link:", state, 0, None, None, None, 0, True, 0.0, None)


class _Sources:
    def describe(self, source: str) -> str:
        return source


def _status(state: JobState, by_state: dict[str, int]) -> dict[str, object]:
    return job_status(_job(state), by_state, _Sources())  # type: ignore[arg-type]


def test_ready_files_held_for_a_conversion_are_said_in_status() -> None:
    row = _status(JobState.ACTIVE, {"ready": 7, "converting": 1})
    assert row["album_waits"] == {"ready": 7, "converting": 1}
    cell = state_cell(row)
    assert cell == "active (7 ready wait for 1 conversion (convert.album_wait_seconds))"
    queued = _status(JobState.ACTIVE, {"ready": 1, "convert": 2, "delivered": 3})
    assert "1 ready wait for 2 conversions" in state_cell(queued)


def test_a_reading_job_says_it_and_a_paused_one_does_not() -> None:
    reading = _status(JobState.READING, {"ready": 3, "converting": 1})
    assert "3 ready wait for 1 conversion" in state_cell(reading)
    job = _job(JobState.ACTIVE)
    paused = job_status(
        Job(**{**{f: getattr(job, f) for f in job.__dataclass_fields__}, "paused": True}),
        {"ready": 3, "converting": 1},
        _Sources(),  # type: ignore[arg-type]
    )
    assert paused["album_waits"] is None and state_cell(paused) == "active (paused)"


def test_nothing_is_said_when_nothing_waits_for_a_conversion() -> None:
    for state, by_state in (
        (JobState.ACTIVE, {"ready": 7}),  # nothing converts: its album is sealed next
        (JobState.ACTIVE, {"converting": 2, "delivered": 7}),  # nothing ready waits
        (JobState.DONE, {"ready": 1, "convert": 1}),
    ):
        row = _status(state, by_state)
        assert row["album_waits"] is None
        assert "conversion" not in state_cell(row)
