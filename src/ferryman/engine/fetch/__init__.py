"""The fetch stage: a fetch-first input (a link) brought into the job's work area."""

from ferryman.engine.fetch.worker import STAGE

__all__ = ["STAGE"]
