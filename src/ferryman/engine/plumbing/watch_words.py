"""How a watch is spoken of, the same in a notice (``engine/notify``) and at every front
door (``ops/watch_admin``): its source as shown, and the jobs a look's entries went to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.store.watches.sql import Watch


def jobs_text(jobs: list[int]) -> str:
    """The job(s) a look's entries are in, as the CLI and notices say it: one job per
    look (``job 12``), more only when some were already another job's."""
    if not jobs:
        return "no job"
    return f"job {jobs[0]}" if len(jobs) == 1 else f"jobs {', '.join(map(str, jobs))}"


def shown_source(watch: Watch) -> str:
    """The source without user info or query (its lister's description)."""
    from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

    try:
        return default_listers().get(watch.kind).describe(watch.source)
    except FerrymanError:
        return watch.source
