"""What a stage claims with a lease, in the domain's words (the lease port takes one)."""

from __future__ import annotations

from enum import Enum


class Claimed(Enum):
    """A unit of work claimed with a lease; its value names it in a log."""

    JOB = "job"
    FETCH = "fetch"
    ALBUM = "album"
    ITEM = "item"
    WATCH = "watch"
    NOTICE = "notice"
