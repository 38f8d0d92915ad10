"""The destinations ferryman ships, as a fresh registry (a test adds its own to a copy)."""

from __future__ import annotations

from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.library_kind import LibraryKind
from ferryman.sinks.link import LinkKind
from ferryman.sinks.rclone_kind import RcloneKind
from ferryman.sinks.telegram_kind import TelegramKind


def default_sinks() -> SinkRegistry:
    return SinkRegistry((LibraryKind(), LinkKind(), TelegramKind(), RcloneKind()))
