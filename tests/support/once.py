"""Made once per run, shared by every pytest-xdist worker: test media that takes seconds
to encode (a module-scoped fixture is made again in each worker that runs one of the
module's tests, and several modules encode the same site).

``built_once(factory, "site", build)`` calls ``build(folder)`` in the first worker to ask
and hands every worker (the first included) what it returned; the others wait for it
under a file lock. Whatever ``build`` returns must pickle (paths, dataclasses of them).
What is built is read-only for the tests: a test that changes a file copies it first.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """The temp folder of this whole run: the workers' parent under xdist, else the base."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    shared = run_folder(factory) / f"once-{name}"
    done = shared.with_name(shared.name + ".pickle")
    with open(shared.with_name(shared.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(shared, ignore_errors=True)  # a build that failed halfway
                shared.mkdir()
                made = build(shared)
                scratch = done.with_suffix(".part")
                scratch.write_bytes(pickle.dumps(made))
                scratch.replace(done)
                return made
            loaded: T = pickle.loads(done.read_bytes())
            return loaded
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
