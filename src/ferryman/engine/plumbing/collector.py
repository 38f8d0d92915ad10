"""The garbage collector while an engine runs: what start-up made is set aside.

CPython walks its oldest generation in full every so often, and after start-up that
generation holds nearly the whole heap: modules, SQLAlchemy's schema and compiled
statements, Pydantic's models, none of which will ever be garbage. A run that makes a
few hundred short-lived objects per entry (rows, parameters, events) triggers those
walks again and again. ``gc.freeze()`` moves everything alive at the start out of the
collector's sight (it is still freed by reference counting as usual); what the run
makes is collected as before (less CPU and wall time in ``python -m bench pipeline``,
which sets it aside as ``ferryman run`` does: bench/results/pipeline.md).

Used where a front door runs the engine (``frontdoors.startup.running``: ``run``, the
chat, the web, the demo), not inside ``Engine.run``: the collector is the whole
process's, and only its entry point knows it owns the process. Thawed when the run
ends. While it runs, start-up objects that later become cyclic garbage wait for the
thaw; start-up makes few that die.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def startup_set_aside() -> Iterator[None]:
    """Freeze the heap as it is now for the duration of the block."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
