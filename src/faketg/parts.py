"""What the fake remembers of file parts beyond one upload: how long it keeps them, and
which arrived twice.

Telegram keeps an upload's parts for a while before a ``uploadMedia``/``sendMedia``
uses them, then forgets them: a client that comes back later (a resumed upload) finds
``FILE_PART_N_MISSING`` and must start over. ``ttl`` models that: an upload whose first
part arrived more than ``ttl`` seconds ago (the server's clock) is gone as a whole.
``repeats`` counts the parts a client sent again for the same file id (a resume that
re-sends what the server already had; a retry after a lost answer): what a resume test
and the bench measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faketg.state import Upload

Key = tuple[int, int]  # (auth key id, file_id)


@dataclass(slots=True)
class PartLedger:
    ttl: float | None = None  # seconds an upload's parts are kept; None: for ever
    seen: dict[Key, set[int]] = field(default_factory=dict)  # never forgotten
    repeats: int = 0  # part requests for a part this file id had already sent
    repeated_bytes: int = 0
    received: int = 0  # part requests, repeats included
    received_bytes: int = 0
    expired: int = 0  # uploads forgotten for their age

    def arrived(self, key: Key, index: int, size: int) -> None:
        got = self.seen.setdefault(key, set())
        self.received += 1
        self.received_bytes += size
        if index in got:
            self.repeats += 1
            self.repeated_bytes += size
        got.add(index)

    def stale(self, upload: Upload, now: float) -> bool:
        """The upload's parts are past their time (then the caller forgets it)."""
        if self.ttl is None or upload.started is None or now - upload.started <= self.ttl:
            return False
        self.expired += 1
        return True

    def reset_counts(self) -> None:
        """Start counting afresh (a second run of a test), keeping what was seen."""
        self.repeats = self.repeated_bytes = self.received = self.received_bytes = 0
