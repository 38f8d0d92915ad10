"""Status and reports as plain data, for the CLI now and the web and chat later."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from ferryman.engine.ops.who import MACHINE, Who, own_job
from ferryman.error_codes import ASKS
from ferryman.errors import ERRORS, next_step_for, spec_for, with_job
from ferryman.model import ItemState, Job, JobState
from ferryman.net.rclone_path import shown_dest
from ferryman.store.shared.rows import summarise_items

if TYPE_CHECKING:  # `ferryman status` reads through the light store, without SQLAlchemy
    from ferryman.sinks.base import SinkRegistry
    from ferryman.sources.base import SourceRegistry
    from ferryman.store.ports import JobsView

_PENDING = [s for s in ItemState if not s.terminal]


def _sources() -> SourceRegistry:
    """Loaded only to name a job's input: an empty ``status`` answers without them."""
    from ferryman.sources.builtin import default_sources  # lazy: start-up

    return default_sources()


def _sinks() -> SinkRegistry:
    """Loaded only to say which jobs have download links (as ``_sources``)."""
    from ferryman.sinks.builtin import default_sinks  # lazy: start-up

    return default_sinks()


def counts(by_state: dict[str, int]) -> dict[str, int]:
    total = sum(by_state.values())
    return {
        "total": total,
        "delivered": by_state.get(ItemState.DELIVERED.value, 0),
        "skipped": by_state.get(ItemState.SKIPPED.value, 0),
        "quarantined": by_state.get(ItemState.QUARANTINED.value, 0),
        "failed": by_state.get(ItemState.FAILED.value, 0),
        "cancelled": by_state.get(ItemState.CANCELLED.value, 0),
        "pending": sum(by_state.get(s.value, 0) for s in _PENDING),
    }


def job_status(
    job: Job,
    by_state: dict[str, int],
    sources: SourceRegistry | None = None,
    fetching: bool = False,
    fetch_error: str | None = None,
    in_line: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``source`` as a person names it: a path, or a link without its secrets;
    ``fetching``: its input is being downloaded now (the job itself is still queued);
    a waiting job's ``waiting_message`` and ``waiting_next`` say why and what to do;
    ``in_line``: a queued job's place (``store/jobs/queue_sql``), as the web's job view has it."""
    waits = job.wait_reason
    return {
        "id": job.id,
        "name": job.name,
        "source": (sources or _sources()).describe(job.source),
        "dest": shown_dest(job.dest),
        "state": job.state.value,
        "paused": job.paused,
        "waiting": waits,
        "waiting_message": (job.error_message or fetch_error) if waits else None,
        "waiting_next": with_job(spec_for(waits).next_step, job.id) if waits else None,
        "error": _error(job),
        "counts": counts(by_state),
        "fetching": fetching and job.state is JobState.QUEUED,
        "in_line": in_line,
        "album_waits": album_waits(job, by_state),
    }


def album_waits(job: Job, by_state: dict[str, int]) -> dict[str, int] | None:
    """A running job's files ready but not in an album while others of it are being
    converted: ``{"ready": …, "converting": …}``. An album waits for a conversion in
    its place (``convert.album_wait_seconds``), so its ready files stand still; said,
    so a job whose pending count does not move does not look stuck. None otherwise (a
    paused job says so itself)."""
    ready = by_state.get(ItemState.READY.value, 0)
    converting = by_state.get(ItemState.CONVERT.value, 0)
    converting += by_state.get(ItemState.CONVERTING.value, 0)
    reads_or_waits = job.state in (JobState.READING, JobState.ACTIVE)
    if not reads_or_waits or job.paused or not ready or not converting:
        return None
    return {"ready": ready, "converting": converting}


def _error(job: Job) -> dict[str, Any] | None:
    """A job's error as people need it: the code, its message, and the next step."""
    if not job.error_code:
        return None
    failed = job.state is JobState.FAILED
    return {
        "code": job.error_code,
        "message": job.error_message,
        "next": next_step_for(job.error_code, failed=failed, job=job.id, message=job.error_message),
    }


async def status(
    store: JobsView, sources: SourceRegistry | None = None, who: Who = MACHINE
) -> dict[str, Any]:
    """Every job ``who`` sees (a person: their own; ``ops/who``) with its counts."""
    per_job = await store.item_counts()
    fetching, errors = await store.fetching_jobs(), await store.fetch_errors()
    places = await store.queue_places()
    jobs = [job for job in await store.list_jobs() if who.sees(job.account)]
    return status_of(jobs, per_job, sources, fetching, errors, places)


def status_of(
    jobs: list[Job],
    per_job: dict[int, dict[str, int]],
    sources: SourceRegistry | None = None,
    fetching: Collection[int] = (),
    fetch_errors: Mapping[int, str] | None = None,
    places: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every job with its counts (``per_job``: item states by job, as the store counts),
    whether its input is being fetched (``fetching``: those jobs' ids), why a job
    waits (``fetch_errors``: its fetch's last error, when the job itself says none) and
    a queued job's place in line (``places``: the store's ``queue_places``)."""
    if not jobs:
        return {"jobs": []}
    registry = sources or _sources()
    errors, lines = fetch_errors or {}, places or {}
    return {
        "jobs": [
            job_status(
                j,
                per_job.get(j.id, {}),
                registry,
                j.id in fetching,
                errors.get(j.id),
                lines.get(j.id),
            )
            for j in jobs
        ]
    }


async def report(
    store: JobsView,
    job_id: int,
    sources: SourceRegistry | None = None,
    sinks: SinkRegistry | None = None,
    who: Who = MACHINE,
) -> dict[str, Any]:
    """The stored summary of an ended job, or a live one; plus every item's outcome;
    ``download_links``: its files are served as links (``ferryman links JOB``). Of
    ``who``'s own jobs only (another's is ``job.not_found``)."""
    job = await own_job(store, who, job_id)
    rows = await store.job_items(job_id)
    summary = job.summary or summarise_items(job, rows, store.clock())
    summary["source"] = (sources or _sources()).describe(job.source)
    summary["state"] = job.state.value  # a stored summary may predate a retry's start
    from ferryman.store.jobs.waited import waited  # SQLAlchemy's: not for the light commands

    memos = await store.source_memos(job_id)
    summary["fetched_as"] = memos.get("fetch.note")
    # The time it waited on its person (a password, space) is not time it worked.
    summary["seconds_waited"] = round(waited(memos, job.finished_at or store.clock()), 3)
    summary["seconds_worked"] = round(max(0.0, summary["seconds"] - summary["seconds_waited"]), 3)
    summary["dest"] = shown_dest(job.dest)
    summary["download_links"] = (sinks or _sinks()).keeps_results(job.dest)
    if summary["error"]:
        summary["error"]["next"] = next_step_for(
            summary["error"]["code"],
            failed=job.state.terminal,
            job=job.id,
            message=summary["error"].get("message"),
        )
    fetch = await store.fetched(job_id) if job.wait_reason and not job.error_message else None
    summary["waiting"] = (
        {
            "code": job.wait_reason,
            "message": job.error_message or (fetch.error_message if fetch else None),
            "next": (
                with_job(ERRORS[job.wait_reason].next_step, job.id)
                if job.wait_reason in ERRORS
                else None
            ),
        }
        if job.wait_reason
        else None
    )
    summary["items"] = [
        {
            "seq": it.seq,
            "path": it.source_path,
            "kind": it.kind.value,
            "state": it.state.value,
            "plan": it.plan.value if it.plan else None,
            "album": it.album_id,  # the album it went in (ids rise as albums are sealed)
            "actions": it.actions,
            "reason": it.reason,
            "size_before": it.source_size,
            "size": it.size,
            "seconds": round(it.work_seconds, 3),
            "parts": len(it.parts) or None,
            "sha256": it.sha256,
            "error": {"code": it.error_code, "message": it.error_message}
            if it.error_code
            else None,
        }
        for it in rows
    ]
    return summary


async def run_summary(
    store: JobsView,
    since: float,
    touched: Collection[int] | None = None,
    *,
    before: dict[int, dict[str, int]] | None = None,
    stopped: bool = False,
    sinks: SinkRegistry | None = None,
    only: Collection[int] | None = None,
    library: str | None = None,
) -> dict[str, Any]:
    """What a ``run`` leaves behind: the jobs not ended, and those that ended at or after
    ``since`` (and, given ``touched``, that this run worked on: with several nodes on one
    store, the others' jobs are theirs to report), by outcome, their items, and what each
    waiting or failed job needs. ``before``: the item counts when the run began; the
    items then count what this run did (a retried job's earlier deliveries are not its).
    ``stopped``: this run's engine has stopped, so a job neither ended nor waiting is
    ``unfinished`` (the next run goes on with it), not ``running``. ``only``: these jobs
    and no other (``add --run``'s own, whoever ran them). ``where``: where each job that
    delivered sent its files, in a person's words (the default library named by its
    folder, ``library``).
    """
    per_job = await store.item_counts()
    jobs: dict[str, int] = {}
    items = {"delivered": 0, "failed": 0, "quarantined": 0, "skipped": 0, "pending": 0}
    needs: list[dict[str, Any]] = []
    waiting_why = await store.fetch_errors()  # a fetch waiting between tries says why
    links: list[dict[str, Any]] = []  # jobs with download links: `ferryman links JOB`
    registry = sinks or _sinks()
    keeps = registry.keeps_results
    where: list[dict[str, Any]] = []
    for job in await store.list_jobs():
        if only is not None:
            if job.id not in only:
                continue
        elif job.state.terminal and (
            (job.finished_at or 0.0) < since or (touched is not None and job.id not in touched)
        ):
            continue
        outcome = "paused" if job.paused else _outcome(job)
        if stopped and outcome == "running":
            outcome = "unfinished"
        jobs[outcome] = jobs.get(outcome, 0) + 1
        c = counts(per_job.get(job.id, {}))
        was = counts(before.get(job.id, {})) if before is not None else None
        for key in items:
            done_before = was[key] if was is not None and key != "pending" else 0
            items[key] += max(c[key] - done_before, 0)
        code = job.wait_reason if outcome == "waiting" else job.error_code
        if job.state.terminal and c["delivered"] and keeps(job.dest):
            links.append({"id": job.id, "name": job.name})
        elif c["delivered"]:
            to = registry.words(job.dest)
            if library and job.dest.partition("?")[0] in ("library", "library:"):
                to = f"{to} ({library})"
            already = await _already_there(store, job, registry.records_of(job.dest))
            where.append({"id": job.id, "name": job.name, "to": to, "already": already})
        if outcome != "done" or job.error_code:
            needs.append(
                {
                    "id": job.id,
                    "name": job.name,
                    "state": outcome,
                    "code": code,
                    "message": job.error_message
                    or (waiting_why.get(job.id) if outcome in ("waiting", "unfinished") else None),
                    # what a job the stopped run left was waiting for (a service still
                    # downloading, a retry's pause): said, though only a run goes on with it
                    "was_waiting": job.wait_reason if outcome == "unfinished" else None,
                    "next": (
                        next_step_for(
                            code, failed=job.state.terminal, job=job.id, message=job.error_message
                        )
                        if code in ERRORS
                        else None
                    ),
                }
            )
    return {"jobs": jobs, "items": items, "needs": needs, "links": links, "where": where}


def waits_on_you(code: str | None) -> bool:
    """Whether a job's wait is on a person or the machine (a password, disk room, Wi-Fi:
    what the notices ask for, or a code that ``waits``), not a retry's pause: one of
    those goes on only while an engine runs (after a Ctrl-C it is unfinished)."""
    if not code:
        return False
    return code.startswith(ASKS) or spec_for(code).waits


def _outcome(job: Job) -> str:
    """``done`` / ``failed`` / ``cancelled`` for an ended job, ``waiting`` for one that
    waits on a person or on disk space, else ``running``."""
    if job.state.terminal:
        return job.state.value
    if job.state is JobState.NEEDS_PASSWORD or waits_on_you(job.wait_reason):
        return "waiting"
    return "running"


async def _already_there(store: JobsView, job: Job, scope: str | None) -> int:
    """How many of a job's files were there already, the same bytes at their place, not
    copied a second time: a library's ``already:`` records (``sinks/flat.py``), a
    remote's records marked ``already`` (``sinks/rclone.py``); ``scope``: the records
    its destination keeps (``SinkRegistry.records_of``)."""
    kept = getattr(store, "sink_state", None)  # the light store (a followed run) has none
    if kept is None or scope not in ("library", "rclone"):
        return 0
    records = await kept(scope).records(job.id)
    return sum(1 for r in records if r.key.startswith("already:") or r.value.get("already") is True)
