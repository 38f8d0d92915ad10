"""One in-process bus for state changes and progress; front doors subscribe to it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Something happened to a job, an item or an album.

    ``kind`` is dotted (``item.recorded``, ``album.delivered``, ``item.progress`` …);
    ``data`` carries what a renderer needs without asking the store again.
    """

    kind: str
    job_id: int | None = None
    item_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out: subscribers must be quick (render, enqueue), never block."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it again."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken renderer must not stop the engine
                log.exception("event subscriber failed on %s", event.kind)

    def emit(
        self, kind: str, job_id: int | None = None, item_id: int | None = None, /, **data: Any
    ) -> None:
        self.publish(Event(kind, job_id, item_id, data))
