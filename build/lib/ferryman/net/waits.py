"""How long to wait before asking a server again: its own ``Retry-After``, else backoff.

The backoff is the engine's formula (exponential with jitter, so many downloads do
not retry in lock-step) over the same ``[retry]`` settings; it is repeated here
because an adapter must not import the engine.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from ferryman.config import Retry


def backoff_seconds(failures: int, policy: Retry, rng: random.Random | None = None) -> float:
    """Delay after ``failures`` failed attempts in a row (from 1)."""
    base = min(policy.max_seconds, policy.base_seconds * (2 ** max(0, failures - 1)))
    spread = (rng or random.Random()).uniform(-policy.jitter, policy.jitter)
    return float(max(0.0, min(policy.max_seconds, base * (1.0 + spread))))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent
    or unreadable. A date in the past means "now" (0)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
