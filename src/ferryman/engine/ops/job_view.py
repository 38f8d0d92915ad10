"""A job as ``GET /api/v1/jobs/{id}`` shows it, built from the store alone.

The web's tracker (``web/live``) adds what only a running page knows (live speed, a
bar's fraction, signed result links); a notice needs the job as it stands when the
event happens, from any node, without the web layer. The keys it has are the API's
keys with the same meaning.
"""

from __future__ import annotations

from typing import Any

from ferryman.errors import next_step_for, spec_for, with_job
from ferryman.model import Job
from ferryman.net.rclone_path import shown_dest
from ferryman.sources.base import SourceRegistry


def job_view(job: Job, sources: SourceRegistry) -> dict[str, Any]:
    """The job's stored fields under the API's names (``summary``: its report)."""
    error = None
    if job.error_code:
        error = {
            "code": job.error_code,
            "message": job.error_message or job.error_code,
            "next": next_step_for(
                job.error_code, failed=job.state.terminal, job=job.id, message=job.error_message
            ),
            "retryable": spec_for(job.error_code).retryable,
        }
    summary = job.summary or {}
    return {
        "id": job.id,
        "name": job.name,
        "source": sources.describe(job.source),
        "dest": shown_dest(job.dest),
        "status": job.state.value,
        "paused": job.paused,
        "waiting": job.wait_reason,
        "waiting_next": (
            with_job(spec_for(job.wait_reason).next_step, job.id) if job.wait_reason else None
        ),
        "error": error,
        "counts": {
            "total": summary.get("total", 0),
            "delivered": summary.get("delivered", 0),
            "failed": len(summary.get("failed", [])),
            "quarantined": len(summary.get("quarantined", [])),
            "skipped": sum(summary.get("skipped", {}).values()),
        },
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }
