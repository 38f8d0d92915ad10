"""Backoff: exponential with jitter, so many failed items do not retry in lock-step."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ferryman.config import Retry, Settings
from ferryman.errors import FerrymanError, ServerWait


def backoff_seconds(attempt: int, policy: Retry, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1`` (``attempt`` counts failures so far, from 1)."""
    base = min(policy.max_seconds, policy.base_seconds * (2 ** max(0, attempt - 1)))
    spread = (rng or random.Random()).uniform(-policy.jitter, policy.jitter)
    return float(max(0.0, min(policy.max_seconds, base * (1.0 + spread))))


def should_retry(error: FerrymanError, failures: int, policy: Retry) -> bool:
    """Retry only what can heal, and only ``max_attempts`` times in all."""
    return error.retryable and failures < policy.max_attempts


@dataclass(frozen=True, slots=True)
class Again:
    """Try again in ``delay`` seconds; ``counted``: it was a failed attempt."""

    delay: float
    counted: bool


def again_after(error: FerrymanError, failures: int, settings: Settings) -> Again | None:
    """When claimed work that failed with ``error`` runs again (None: it fails for good).

    A wait a server imposed is honoured to the second; waits for disk room, Wi-Fi, a
    network at all or charge are rechecked; none counts as an attempt. A permanent
    fault worth confirming (an unknown host) is tried once more; anything else
    retryable backs off and counts.
    """
    if isinstance(error, ServerWait):
        return Again(float(error.seconds), counted=False)
    if error.code == "space.low":
        return Again(settings.space_recheck_seconds, counted=False)
    if error.code in ("network.metered", "network.offline", "power.low"):  # the device's state
        return Again(settings.network.recheck_seconds, counted=False)
    if error.confirm_once:  # a permanent fault, asked about once more before it fails
        return Again(backoff_seconds(1, settings.retry), counted=True) if failures <= 1 else None
    if should_retry(error, failures, settings.retry):
        return Again(backoff_seconds(failures, settings.retry), counted=True)
    return None
