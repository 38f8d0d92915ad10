"""An exception met while one entry was prepared: that entry's fault (it fails alone,
the input reads on) or the machine's (the job's), and the entry's error it becomes.
Apart from ``prepare`` (which re-exports both) so that module stays within its size."""

from __future__ import annotations

import logging

from ferryman.errors import FerrymanError

__all__ = ["entry_fault", "internal"]
log = logging.getLogger("ferryman.engine.read.prepare")  # where its lines always were


def entry_fault(bug: Exception) -> bool:
    """Whether an unexpected exception met while one entry was prepared is that entry's
    (a decoder's or our own code's bug on its bytes: it fails alone and the input reads
    on) rather than the machine's: a failed system call (a full or broken disk, a
    missing work folder) is the same for every entry, so it stays the job's. (Pillow
    says "cannot decode" with an ``OSError`` of no errno: the entry's.) While staging,
    every ``OSError`` is the machine's: the source's read or the disk's write."""
    return not (isinstance(bug, OSError) and bug.errno is not None)


def internal(name: str, bug: Exception) -> FerrymanError:
    """An unexpected exception as one entry's ``entry.internal``, logged as the bug it is
    (with its traceback): the person sees the code, the developer the stack."""
    log.error("entry %s: unexpected %s; it fails alone", name, type(bug).__name__, exc_info=bug)
    return FerrymanError("entry.internal", f"{name}: {type(bug).__name__}: {bug}")
