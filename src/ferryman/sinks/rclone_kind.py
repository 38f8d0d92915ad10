"""``rclone:REMOTE:path``: the kind (target checked, policy, readiness), light for front
doors; its sink (``sinks/rclone``) is imported when a delivery opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.media.policy import LIBRARY, LIBRARY_PLAYABLE, Policy
from ferryman.sinks.base import Sink, SinkEnv, SinkKind

if TYPE_CHECKING:
    from ferryman.config import Settings


class RcloneKind(SinkKind):
    """``rclone:REMOTE:path``, a remote of the person's rclone.conf."""

    scheme = "rclone"
    description = (
        "rclone:REMOTE:path (a remote of your rclone.conf; rclone's connection strings too:"
        " REMOTE,key=value:path, :backend,key=value:path)"
    )
    # A remote keeps every file of an input as a library does (a camera's RAW, a PDF),
    # unless asked for media alone (``?media=only``, ``--media-only``).
    takes: frozenset[str] = frozenset({"caption", "media"})
    personal = True  # a person's jobs reach their own remotes (``net/rclone_conf``)
    client_target = ""  # a client names its remote; a person's own (``ops/who``)
    # An album is one ``sync/copy``: the first copy starts with the job's first file.
    albums_grow = True
    backup = True  # a file nothing here decodes is copied as it is, not quarantined

    def parse(self, target: str) -> str:
        """``REMOTE:path``, or one of rclone's connection strings (``REMOTE,key=value:path``,
        ``:backend,key=value:path``): kept as typed, rclone reads it (``net/rclone_path``)."""
        from ferryman.net.rclone_path import parse_remote  # light: re alone

        return parse_remote(target, "sink.unknown", "rclone destination").text

    def policy(self, settings: Settings) -> Policy:
        """A remote keeps what a library keeps: the originals."""
        return LIBRARY_PLAYABLE if settings.media.library_convert else LIBRARY

    def words(self, target: str) -> str:
        from ferryman.net.rclone_path import shown_remote  # light: re alone

        return f"the rclone remote {shown_remote(target)}"

    def check_ready(self, settings: Settings, target: str) -> None:
        from ferryman.net.rclone_conf import rclone_ready  # lazy: start-up

        rclone_ready(settings, target, f"send to rclone:{target}")

    def open(self, target: str, env: SinkEnv) -> Sink:
        from ferryman.sinks.rclone import RcloneSink, shared_rclone

        # ``env.settings`` carry the job's person's rclone.conf (``SinkKind.personal``).
        rclone = shared_rclone(env.resources, env.settings.rclone.config)
        return RcloneSink(rclone, env.state, target, env.settings.work_dir)
