"""What an input needs set up before it can be fetched, checked when it is added
(``sources/base.Ready``): offline, from the settings alone, so an input that could not
work is refused with a step that fits (set it up, then add it again), nothing recorded.
A source takes its check as a method: ``check_ready = ready.torbox``."""

from __future__ import annotations

from typing import Any

from ferryman.config import Settings
from ferryman.errors import FerrymanError


def torbox(source: Any, settings: Settings, uri: str) -> None:
    """Torbox's API key."""
    if not settings.torbox.api_key:
        raise FerrymanError(
            "torbox.auth",
            f"cannot fetch {uri}: torbox.api_key is not set; nothing was added",
            step="Set your Torbox API key (torbox.app → Settings → API key): `ferryman"
            " config set torbox.api_key KEY`, then add it again.",
        )


def telegram_link(source: Any, settings: Settings, uri: str) -> None:
    """An account logged in to read the message with."""
    from ferryman.sinks.telegram_kind import telegram_ready  # lazy: the pool's modules

    telegram_ready(settings, f"read {source.describe(uri)}")


def rclone(source: Any, settings: Settings, uri: str) -> None:
    """rclone, and the remote ``uri`` names in the rclone.conf in use (blocking: rclone
    says its remotes)."""
    from ferryman.net.rclone_conf import rclone_ready  # lazy: start-up

    rclone_ready(settings, uri, f"fetch {uri}")
