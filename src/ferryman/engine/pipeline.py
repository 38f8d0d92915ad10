"""The engine's pipeline in one place, as beets' importer lists its stages: each stage,
the unit of work it claims, whom a finished step wakes and what wakes it. ``runner``
starts a pool of workers for each entry of ``PIPELINE`` and runs the loops beside them.

Work enters at intake (``engine/ops/intake``, not a stage: a front door's ``add`` or a
watch's check): an input becomes a job, and a fetch when it is downloaded first, in one
transaction, and running engines are woken. Then::

    fetch ──> read ────┬──────────────> deliver ──> housekeeper: the job ends ──> notifier
                       └──> convert ──> deliver
    watch ──> intake (its new entries become jobs)

A worker claims one unit with a lease (the store's claims), keeps the lease alive while
its step runs (``leases.held``) and, when the step ends, notifies the topics in
``wakes``. An idle worker waits on its stage's own topic (its name) or a notify naming
none (a control, a wake-up from another process), and looks again after
``poll_seconds`` anyway, its unwoken looks growing apart while none finds work
(``Wakeup.idle``: up to 8 polls; what comes due by time alone is found a few seconds
late at most). Topics that name no stage: ``backlog`` (a read waiting for its
backlog to drain or for free space, ``engine/read/write_wait``), ``housekeeper`` and
``last`` (a job's last album went or its read ended: the housekeeper ends the job
without its gap).

Beside the stages, ``runner`` runs the housekeeper (woken by ``housekeeper`` and ``last``:
reaps expired leases, seals what the stages did not, ends finished jobs, tidies ended
jobs' folders), the notifier (hears the bus, claims its own outbox rows:
``engine/notify``) and the node's heartbeat (every third of a lease or on a wake-up; it
learns of a drain).
"""

from __future__ import annotations

from collections.abc import Awaitable

from ferryman.engine import convert, deliver, fetch, read
from ferryman.engine.context import Context
from ferryman.engine.plumbing.stages import (
    NOTHING_NEXT,
    NothingNext,
    Pool,
    Stage,
    lease_seconds,
    steps,
    until_stopped,
)
from ferryman.model import AlbumClaim, Item, Job
from ferryman.store.fetches.sql import Fetch
from ferryman.store.watches.sql import Watch

# The stages' shape is plumbing's (a stage's package defines its own): named here too.
__all__ = [
    "NOTHING_NEXT",
    "PIPELINE",
    "STAGES",
    "TOPICS",
    "NothingNext",
    "Pool",
    "Stage",
    "lease_seconds",
]


# ------------------------------------------------------------------ the watch's step


async def _watch(ctx: Context, claimed: Watch) -> None:
    """Check a due watch (``engine/watch/check``): its new entries become jobs."""
    from ferryman.engine.ops.intake import entry_job  # lazy: start-up
    from ferryman.engine.ops.limits import of_watches  # lazy: start-up
    from ferryman.engine.watch import Checker  # lazy: start-up
    from ferryman.sources.listers.base import WatchEntry  # lazy: start-up
    from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

    async def cut(listing: Awaitable[list[WatchEntry]]) -> list[WatchEntry]:
        return await until_stopped(ctx, listing)

    checker = Checker(
        ctx.watch_store,
        ctx.sources,
        ctx.sinks,
        default_listers(ctx.resources),
        ctx.device,
        ctx.owner,
        enter=entry_job,
        limited=of_watches(ctx.watch_people),  # its person's limits, as every new job's
        cut=cut,
        publish=ctx.bus.publish,
        stopping=ctx.stopping,
        clock=ctx.clock,
    )
    await checker.check(claimed, await ctx.settings())


# ------------------------------------------------------------------ the list

PIPELINE: tuple[Stage[Fetch] | Stage[Job] | Stage[AlbumClaim] | Stage[Item] | Stage[Watch], ...]
PIPELINE = (
    fetch.STAGE,
    read.STAGE,
    deliver.STAGE,
    convert.STAGE,
    Stage[Watch](
        "watch",
        claims="a due, unpaused watch (claim_watch); its new entries go through intake",
        woken_by="its poll (a watch falls due by the clock); a watch just added (a wake-up);"
        " a watched folder's change notice (engine/watch/notified)",
        wakes=(),  # a check made jobs (or none): rare, so everyone looks
        workers=lambda settings: 1,
        open=steps(lambda ctx, lease: ctx.watch_store.claim_watch(ctx.owner, lease), _watch),
    ),
)

STAGES = tuple(stage.name for stage in PIPELINE)  # every engine runs each (≥ 1 worker)
# Every wake-up topic: the stages' own, and those that name no stage (see above).
TOPICS = (*STAGES, "backlog", "housekeeper", "last")


def draw() -> str:
    """The pipeline as docs/architecture.md shows it: the flow from this module's
    docstring, then one row per stage of ``PIPELINE``. ``python -m
    ferryman.engine.pipeline`` prints it; tests/test_architecture_doc.py checks that the
    doc's copy is this, so the two cannot drift apart."""
    doc = __doc__ or ""
    flow = doc[doc.index("::\n\n") + 4 :].split("\n\n")[0]
    rows = [
        "| stage | claims | woken by | wakes when a step ends |",
        "| --- | --- | --- | --- |",
    ]
    for stage in PIPELINE:
        wakes = ", ".join(stage.wakes) or "everyone"
        rows.append(f"| `{stage.name}` | {stage.claims} | {stage.woken_by} | {wakes} |")
    lines = [line.removeprefix("    ") for line in flow.splitlines()]
    return "\n".join(["```", *lines, "```", "", *rows]) + "\n"


if __name__ == "__main__":
    print(draw(), end="")
