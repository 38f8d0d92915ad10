"""The sink interface and destination parsing.

A sink receives a whole album and must be idempotent: delivering an album it already
has (a crash struck after it wrote, before the store recorded it) returns the same
reference and writes nothing twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from ferryman.errors import FerrymanError
from ferryman.model import Album, Job


@dataclass(frozen=True, slots=True)
class Delivery:
    """One album to deliver, with everything a sink needs to render it."""

    job: Job
    album: Album
    caption: str

    @property
    def key(self) -> str:
        """Stable across retries and restarts: the sink's idempotency key."""
        return f"job-{self.job.id}/album-{self.album.seq}"


class Sink(Protocol):
    async def deliver(self, delivery: Delivery) -> str:
        """Deliver the album (exactly once) and return where it went."""
        ...


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    target: str


def parse_destination(dest: str) -> Destination:
    """``library:`` (the default library), ``library:/some/path``; others come later."""
    scheme, sep, target = dest.partition(":")
    if not sep or scheme != "library":
        raise FerrymanError(
            "sink.unknown", f"destination '{dest}' is not known; use library: or library:/path"
        )
    if target:
        target = os.path.abspath(target)  # no filesystem access: safe on the event loop
    return Destination(scheme, target)
