"""The garbage collector while a command starts: its walks put off until start-up is over.

A command's start-up (the lazy imports of ``run`` or ``web``: the store, the engine,
Pydantic's models, ~0.3 CPU-s) makes ~150,000 objects that all live on, and the
collector walked them again and again as they came: ~45 ms of each start's imports,
paid by every ``ferryman`` process (the tests start hundreds). ``quiet`` raises the
youngest generation's threshold past what a start-up makes; ``over`` gives the
interpreter's own thresholds back where a command starts to work for long (the engine:
``startup.running``; ``web --no-engine``). A short command ends with them raised: it
still collects, once 250,000 new objects are alive.
"""

from __future__ import annotations

import gc

QUIET = 250_000  # more than a start-up makes: none of its walks comes
USUAL = 700  # CPython's own threshold for the youngest generation


def quiet() -> None:
    """Put the collector's walks off while the command starts."""
    gc.set_threshold(QUIET, *gc.get_threshold()[1:])


def over() -> None:
    """The interpreter's threshold back (nothing to do if ``quiet`` was not called): read
    from the collector itself, so no module state remembers it."""
    young, *older = gc.get_threshold()
    if young == QUIET:
        gc.set_threshold(USUAL, *older)
