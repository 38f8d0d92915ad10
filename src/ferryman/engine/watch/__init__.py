"""The watch stage: a due watch checked, its new entries made jobs through intake."""

from ferryman.engine.watch.check import Checker

__all__ = ["Checker"]
