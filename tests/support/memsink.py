"""An in-memory destination (``mem:NAME``): the proof that a sink is one module.

It touches nothing of ferryman but the sink seam: a test registers it with
``default_sinks().with_kind(MemKind(...))`` and hands the registry to the engine and
to intake. Albums are kept by their delivery key, so delivering one again (a crash
after the sink, before the store) changes nothing and answers the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from ferryman.config import Settings
from ferryman.errors import FerrymanError, ServerWait
from ferryman.media.policy import LIBRARY, Policy
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv, SinkKind


@dataclass(frozen=True, slots=True)
class MemFile:
    source_path: str
    sha256: str


@dataclass(slots=True)
class MemAlbum:
    target: str
    caption: str
    files: list[MemFile]
    refused: dict[int, FerrymanError]


@dataclass(slots=True)
class MemKind(SinkKind):
    """``mem:NAME``. ``refuse``: source names it refuses for good; ``waits``: seconds
    to make the first deliveries wait, one per call; ``fail_once``: album numbers whose
    first delivery fails as a write that heals does (``sink.io``, retried);
    ``fail_for_good``: album numbers whose every delivery fails for good (``sink.unwritable``);
    ``ready``: whether intake may add. ``order``: the album numbers as they were kept;
    ``prepared``: as they were prepared (a sink that prepares); ``slow``: album numbers
    whose delivery takes that many seconds of ``clock`` (a test's ``ManualClock``)."""

    album_max: int | None = 4
    backlog_albums: int | None = None
    refuse: frozenset[str] = frozenset()
    waits: list[int] = field(default_factory=list)
    fail_once: set[int] = field(default_factory=set)
    fail_for_good: frozenset[int] = frozenset()
    slow: dict[int, float] = field(default_factory=dict)
    clock: Any = None
    prepares_at_once: int | None = None  # a sink that prepares (None: one that does not)
    ready: bool = True
    albums: dict[str, MemAlbum] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    prepared: list[int] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)  # when deliver was called

    scheme = "mem"
    description = "mem:NAME (in memory)"
    client_target: str | None = "box"

    def parse(self, target: str) -> str:
        if not target.isidentifier():
            raise FerrymanError("sink.unknown", f"mem:{target}: give a name, mem:NAME")
        return target

    def shorthand(self, value: str) -> str | None:
        return f"mem:{value[1:]}" if value.startswith("%") else None

    def policy(self, settings: Settings) -> Policy:
        return replace(LIBRARY, name="mem", caption_chars=12)

    def check_ready(self, settings: Settings, target: str) -> None:
        if not self.ready:
            raise FerrymanError("sink.io", f"mem:{target} is not ready")

    def open(self, target: str, env: SinkEnv) -> Sink:
        if self.prepares_at_once is not None:
            sink = PreparingMemSink(self, target, env.policy.caption_chars)
            sink.prepares_at_once = self.prepares_at_once
            return sink
        return MemSink(self, target, env.policy.caption_chars)


@dataclass(slots=True)
class MemSink(Sink):
    kind: MemKind
    target: str
    caption_limit: int

    async def deliver(self, delivery: Delivery) -> Delivered:
        self.kind.calls.append(time.monotonic())
        if self.kind.waits:
            seconds = self.kind.waits.pop(0)
            raise ServerWait("sink.wait", f"mem asks to wait {seconds} s", seconds)
        if delivery.album.seq in self.kind.fail_once:
            self.kind.fail_once.discard(delivery.album.seq)
            raise FerrymanError("sink.io", f"mem lost album {delivery.album.seq} on the way")
        if delivery.album.seq in self.kind.fail_for_good:
            raise FerrymanError("sink.unwritable", f"mem cannot keep album {delivery.album.seq}")
        if delivery.album.seq in self.kind.slow:
            await self.kind.clock.sleep(self.kind.slow.pop(delivery.album.seq))
        album = self.kind.albums.get(delivery.key)
        if album is None:
            album = await asyncio.to_thread(self._keep, delivery)
            self.kind.albums[delivery.key] = album
            self.kind.order.append(delivery.album.seq)
        return Delivered(f"mem:{self.target}#{delivery.key}", album.refused)

    def _keep(self, delivery: Delivery) -> MemAlbum:
        files, refused = [], {}
        for item in delivery.album.items:
            if Path(item.source_path).name in self.kind.refuse:
                refused[item.id] = FerrymanError("sink.refused", "mem refused it")
                continue
            for path in item.files:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                files.append(MemFile(item.source_path, digest))
        caption = delivery.caption[: self.caption_limit]
        return MemAlbum(self.target, caption, files, refused)


@dataclass(slots=True)
class PreparingMemSink(MemSink):
    """A sink with a ``prepare`` step (as Telegram's): the engine claims albums ahead
    and prepares them while one is sent (``engine/deliver/lookahead``); nothing is kept
    until ``deliver``."""

    prepares: ClassVar[bool] = True
    prepares_at_once: int = 0

    async def prepare(self, delivery: Delivery) -> Mapping[int, str]:
        self.kind.prepared.append(delivery.album.seq)
        return {}

    async def deliver(self, delivery: Delivery) -> Delivered:
        """Prepared as it is sent when not ahead: the next albums claimed then, as
        Telegram's sink does once its files are uploaded."""
        if delivery.on_prepared is not None:
            self.kind.prepared.append(delivery.album.seq)
            await delivery.on_prepared()
        return await MemSink.deliver(self, delivery)
