"""Durable state: the only truth about jobs, items and albums (SQLAlchemy Core)."""

from ferryman.store.store import Store

__all__ = ["Store"]
