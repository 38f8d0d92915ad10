"""A destination that keeps state (``post:NAME``): the proof that such a sink is one
module plus its registration, with no table, migration or store method of its own.

It posts each album to a ``Board`` (in memory; it stands for a server that cannot be
asked "did you get this?") under a post id it chooses and *claims* in its ``SinkState``
before posting. The board answers a repeated id with the first post, as Telegram
answers a repeated ``random_id``, so a lost answer never posts twice. After the answer
the sink records the post's number. A wait the board imposes is kept in the state's
waits and honoured before any request, across restarts. Everything it reads and writes
goes through ``env.state``; nothing in ``src/`` names it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.config import Settings
from ferryman.errors import FerrymanError, ServerWait
from ferryman.media.policy import LIBRARY, Policy
from ferryman.model import SinkRecord
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv, SinkKind, SinkState


@dataclass(frozen=True, slots=True)
class Post:
    number: int
    target: str
    files: tuple[str, ...]  # sha256 of each file


@dataclass(slots=True)
class Board:
    """``lose_answers``: answers lost after the post stood; ``waits``: seconds to impose,
    one per request, before anything is posted."""

    lose_answers: int = 0
    waits: list[int] = field(default_factory=list)
    posts: dict[int, Post] = field(default_factory=dict)  # by post id
    requests: list[int] = field(default_factory=list)  # post ids asked, in order

    def post(self, post_id: int, target: str, files: tuple[str, ...]) -> int:
        self.requests.append(post_id)
        if post_id not in self.posts:
            self.posts[post_id] = Post(len(self.posts) + 1, target, files)
        if self.lose_answers:
            self.lose_answers -= 1
            raise FerrymanError("sink.io", "the board's answer was lost")
        return self.posts[post_id].number


@dataclass(slots=True)
class PostKind(SinkKind):
    board: Board
    album_max: int | None = 4

    scheme = "post"
    description = "post:NAME (a board that keeps state)"
    client_target: str | None = None

    def parse(self, target: str) -> str:
        if not target.isidentifier():
            raise FerrymanError("sink.unknown", f"post:{target}: give a name, post:NAME")
        return target

    def shorthand(self, value: str) -> str | None:
        return None

    def policy(self, settings: Settings) -> Policy:
        return LIBRARY

    def check_ready(self, settings: Settings, target: str) -> None:
        return None

    def open(self, target: str, env: SinkEnv) -> Sink:
        return PostSink(self.board, target, env.state)


@dataclass(slots=True)
class PostSink(Sink):
    board: Board
    target: str
    state: SinkState

    async def deliver(self, delivery: Delivery) -> Delivered:
        job, album = delivery.job.id, delivery.album.id
        left = await self.state.wait_until(["board"]) - self.state.now()
        if left > 0:
            raise ServerWait("sink.wait", "the board asked to wait", math.ceil(left))
        if self.board.waits:
            seconds = self.board.waits.pop(0)
            await self.state.set_wait("board", self.state.now() + seconds, "sink.wait")
            raise ServerWait("sink.wait", f"the board asks to wait {seconds} s", seconds)
        key = f"album:{album}"
        chosen = SinkRecord(key, {"post_id": secrets.randbits(62), "number": None}, album)
        (planned,) = await self.state.claim(job, [chosen])  # before posting: first wins
        post_id, number = planned.value["post_id"], planned.value["number"]
        if number is None:
            files = await asyncio.to_thread(_hashes, delivery)
            number = self.board.post(post_id, self.target, files)
            posted = SinkRecord(key, {"post_id": post_id, "number": number}, album)
            await self.state.put(job, [posted])
        return Delivered(f"post:{self.target}#{number}")


def _hashes(delivery: Delivery) -> tuple[str, ...]:
    return tuple(
        hashlib.sha256(Path(path).read_bytes()).hexdigest()
        for item in delivery.album.items
        for path in item.files
    )
