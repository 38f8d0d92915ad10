"""The fetch stage: a fetch-first input (a link) brought into the job's work area."""

from ferryman.engine.fetch.step import drop_if_cancelled, fetch, pooled, settle

__all__ = ["drop_if_cancelled", "fetch", "pooled", "settle"]
