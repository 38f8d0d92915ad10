"""The convert stage: deferred encodes, each in a child process."""

from ferryman.engine.convert.step import convert

__all__ = ["convert"]
