"""The sources ferryman ships, as a fresh registry (a test adds its own to a copy)."""

from __future__ import annotations

from ferryman.sources.base import SourceRegistry
from ferryman.sources.file import FileSource
from ferryman.sources.http import HttpSource


def default_sources() -> SourceRegistry:
    return SourceRegistry((HttpSource(), FileSource()))
