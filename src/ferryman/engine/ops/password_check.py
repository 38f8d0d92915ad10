"""Whether a password opens a job's archive, tried at once where the input is on this
machine (``ferryman password JOB PW``): a person learns a typo now, not at the next run.

The archive is read as the job's read would (the same source, limits and libarchive
box: untrusted bytes decoded in a child), from the entry where reading stopped, with
only the password given; the first file there is read for up to ``TRIED_BYTES``. Every
archive format checks a password within its first blocks (zip's and RAR's check
values, 7z's and zip AES's first decoded block), so that is enough to tell.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import tempfile
from pathlib import Path

from ferryman.archive.reader import EntryType
from ferryman.config import Settings
from ferryman.engine.read import read_options
from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.sources.base import ReadOptions, Source, SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.store.ports import JobsView

TRIED_BYTES = 4 * 1024**2  # read of the first file reached with the password
REFUSED = frozenset({"archive.password_required", "archive.password_wrong"})


class Fit(enum.Enum):
    """What trying the password found."""

    OPENS = "opens"  # the entry where reading stopped (or the encrypted list) opened
    REFUSED = "refused"  # the archive said no to it
    UNTRIED = "untried"  # the input is not on this machine, or no file was left to try


async def password_fits(
    settings: Settings,
    store: JobsView,
    job: Job,
    password: str,
    sources: SourceRegistry | None = None,
) -> Fit:
    """Try ``password`` on ``job``'s input from its cursor, off the event loop."""
    source = (sources or default_sources()).for_uri(job.source)
    fetched = await store.fetched(job.id)
    fetched_path = Path(fetched.path) if fetched is not None and fetched.path else None
    if source.local_path(job.source) is None and fetched_path is None:
        return Fit.UNTRIED  # read over the network: trying it would download it
    plain = read_options(settings, job)
    options = dataclasses.replace(
        plain,
        archive=dataclasses.replace(plain.archive, passwords=(password,)),
        fetched=fetched_path,
        scratch=None,  # a nested archive goes to a temporary folder of its own
    )
    return await asyncio.to_thread(_try, source, job, options)


def _try(source: Source, job: Job, options: ReadOptions) -> Fit:
    with tempfile.TemporaryDirectory(prefix="ferryman-password-") as scratch:
        options = dataclasses.replace(options, scratch=Path(scratch))
        try:
            with source.open(job.source, options) as entries:
                for entry in entries:
                    if entry.info.index < job.cursor or entry.skip or entry.error:
                        continue
                    if entry.info.type is not EntryType.FILE:
                        continue
                    read = 0
                    for block in entry.blocks():
                        read += len(block)
                        if read >= TRIED_BYTES:
                            break
                    return Fit.OPENS
        except FerrymanError as exc:
            if exc.code in REFUSED:
                return Fit.REFUSED
            return Fit.UNTRIED  # another fault: the run will meet and report it
    return Fit.UNTRIED
