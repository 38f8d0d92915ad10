"""A job's destination resolved once, when a stage claims its work.

A job keeps its destination as text (``telegram:@name``). A stage that claims a job, an
item or an album turns it into a ``Route`` once (``resolve``): its kind, target, media
options (the policy in them) and the sink it opens; what the stage calls after that
(the read's runs, staging, the encode, the delivery) is handed the route and never
parses the text again.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.plumbing.media_options import MediaOptions, options_for
from ferryman.engine.plumbing.personal import personal_settings
from ferryman.engine.plumbing.places import at_delivery
from ferryman.media.policy import Policy
from ferryman.model import Job, MediaKind
from ferryman.sinks.base import NO_OPTIONS, DeliveryOptions, Sink, SinkEnv, SinkKind

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Route:
    """Where a job's files go, resolved: ``text`` as the job keeps it."""

    text: str
    kind: SinkKind
    target: str
    options: MediaOptions
    env: SinkEnv
    chosen: DeliveryOptions = NO_OPTIONS  # the job's own (``?as=…&caption=…``)
    _sink: Sink | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        return self.options.policy

    def album_size(self, settings: Settings) -> int:
        """The album size now: the setting (it may change while the engine runs),
        within what the destination takes."""
        return self.kind.album_size(settings)

    def caption_template(self, settings: Settings) -> str:
        """The job's own caption template (``?caption=``), else the settings'."""
        return self.chosen.caption or settings.caption_template

    def sink(self) -> Sink:
        """The sink delivering there, opened by its kind on first use (offline and cheap:
        a kind imports what the network needs here, and connects later)."""
        if self._sink is None:
            self._sink = self.kind.open(self.target, self.env)
        return self._sink


async def resolve(ctx: Context, dest: str, account: int | None = None) -> Route:
    """``dest`` resolved with the settings now (``sink.unknown`` if no kind takes it);
    a personal kind's (``SinkKind.personal``) with ``account``'s own (their rclone.conf:
    ``rclone.no_conf`` if a person has none)."""
    settings = await ctx.settings()
    found = ctx.sinks.parse(dest)
    kind = ctx.sinks.kind(dest)
    if kind.personal:
        settings = await personal_settings(ctx.people, settings, account, (dest,))
    options = replace(options_for(settings, kind, found.options), decoder=ctx.media_box)
    state = ctx.sink_states.sink_state(kind.state_scope or found.scheme)  # never the store
    env = SinkEnv(settings, state, options.policy, ctx.resources, found.options)
    return Route(dest, kind, found.target, options, env, found.options)


async def delivering_to(ctx: Context, job: Job) -> Route:
    """``job``'s destination resolved for a delivery: a person's place checked again
    first (``plumbing/places.at_delivery``: a Telegram chat they left since is
    ``account.dest_forbidden``, and nothing goes there)."""
    settings = await ctx.settings()
    await at_delivery(ctx.people, ctx.sinks, settings, ctx.resources, job.account, job.dest)
    return await resolve(ctx, job.dest, job.account)


def warm(route: Route) -> Sink | None:
    """The route's sink may start what its first delivery needs (a login, connections)
    in the background, while its job starts and its input is read. The sink, or None
    when it cannot open (the delivery meets that again and says so)."""
    try:
        sink = route.sink()
    except Exception:
        log.debug("the sink of %s did not open to warm", route.text, exc_info=True)
        return None
    sink.warm()
    return sink


async def preload(route: Route, kinds: Iterable[MediaKind]) -> None:
    """The heavy modules the route's sink imports when first used (``SinkKind.uses``),
    imported on a thread before an album of ``kinds`` that needs them is delivered: on
    the loop PyAV alone held an engine's start for 50-100 ms, and on a thread beside
    the start its import held the claims and the login as long (a job of documents or
    photos never needs it). One that fails to import fails again where it is used."""
    kind = route.kind
    if kind.uses_for is not None and kind.uses_for.isdisjoint(kinds):
        return
    missing = [name for name in kind.uses if name not in sys.modules]

    def load() -> None:
        for name in missing:
            try:
                importlib.import_module(name)
            except ImportError:
                log.debug("%s not imported ahead", name, exc_info=True)

    if missing:
        await asyncio.to_thread(load)
