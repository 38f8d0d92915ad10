"""The ``link:`` destination: finished files kept in the results store, to be fetched
through a signed download link (``ferryman web``).

Albums are written as the library writes them (built under a hidden name, renamed into
place, hard-linked from the work area when it can), but into
``<results_dir>/job-<id>/<NNNN>/``: by job id, so two jobs of the same name never meet,
and so the web finds a job's files without asking the store. ``results.retention``
deletes them later (``web.results``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.media.policy import LIBRARY
from ferryman.sinks.base import Delivery, Sink, SinkEnv
from ferryman.sinks.library import LibrarySink

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.media.policy import Policy


def job_results(root: Path, job_id: int) -> Path:
    """The folder holding one job's delivered albums."""
    return root / f"job-{job_id}"


class LinkKind:
    """``link:``: files to download from ``ferryman web``; any album size, the
    library's playback rules (plays in a browser and on a phone)."""

    scheme = "link"
    description = "link: (a download link, served by `ferryman web`)"
    album_max: int | None = None

    def parse(self, target: str) -> str:
        return ""  # one results store per data dir: nothing to choose

    def shorthand(self, value: str) -> str | None:
        return None

    def policy(self, settings: Settings) -> Policy:
        return LIBRARY

    def check_ready(self, settings: Settings, target: str) -> None:
        return None

    def open(self, target: str, env: SinkEnv) -> Sink:
        return LinkSink(env.settings.results_dir)


class LinkSink(LibrarySink):
    """The library's delivery, laid out by job id."""

    def album_dir(self, delivery: Delivery) -> Path:
        return job_results(self.root, delivery.job.id) / f"{delivery.album.seq:04d}"
