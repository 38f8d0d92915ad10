"""Backoff: exponential with jitter, so many failed items do not retry in lock-step."""

from __future__ import annotations

import random

from ferryman.config import Retry
from ferryman.errors import FerrymanError


def backoff_seconds(attempt: int, policy: Retry, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts failures so far, from 1)."""
    base = min(policy.max_seconds, policy.base_seconds * (2 ** max(0, attempt - 1)))
    spread = (rng or random.Random()).uniform(-policy.jitter, policy.jitter)
    return float(max(0.0, min(policy.max_seconds, base * (1.0 + spread))))


def should_retry(error: FerrymanError, failures: int, policy: Retry) -> bool:
    """Retry only what can heal, and only ``max_attempts`` times in all."""
    return error.retryable and failures < policy.max_attempts
