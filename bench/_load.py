"""The bench's own load: ``--load N`` processes that spin on the CPU for the whole run.

How loaded a shared machine is at a given hour is luck; a target "on a loaded machine"
needs a load the next run can give again. Each spinner keeps a core busy at the bench's
own priority (so on 2 cores with 2 spinners a run gets about half the machine, plus
whatever else runs), and ends by itself once the bench is gone (checked between bursts
of work), should the bench be killed. ``make steady`` (``tests.support.steady``) uses
the same spinners.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SPIN = "import os, sys\nwhile os.getppid() == int(sys.argv[1]):\n    sum(range(200_000))"


@contextmanager
def spinning(count: int) -> Iterator[None]:
    """``count`` processes that keep a core each busy until the block ends."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", SPIN, str(os.getpid())]) for _ in range(count)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
