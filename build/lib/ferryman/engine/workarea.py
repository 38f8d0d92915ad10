"""Where a job's files live while it runs: one folder per job under ``work_dir``.

The runner, the unpack stage and the chat's /cleanup all need the same layout, so it
is written down once, here.
"""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings


def job_work_dir(settings: Settings, job_id: int) -> Path:
    """The job's folder: staged entries, converted files, parts, thumbnails."""
    return settings.work_dir / f"job-{job_id:05d}"


def nested_scratch(settings: Settings, job_id: int) -> Path:
    """Where an archive inside the input is held while it is read (zip and 7z seek)."""
    return job_work_dir(settings, job_id) / "nested"
