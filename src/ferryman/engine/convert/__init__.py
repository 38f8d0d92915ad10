"""The convert stage: deferred encodes, each in a child process."""

from ferryman.engine.convert.worker import STAGE

__all__ = ["STAGE"]
