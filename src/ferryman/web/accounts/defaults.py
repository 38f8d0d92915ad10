"""A person's own defaults for a job added without them: where it goes (``dest``: a
destination kind, ``telegram:@name`` with its target) and what a link becomes (``quality``
a video's height, or ``audio`` a format). A request that says either keeps its own.
An administrator may give a person their own library folder (``library``): that
person's ``library:`` jobs go there, not to the server's ``library``."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ferryman.engine.ops import who as asking
from ferryman.errors import FerrymanError
from ferryman.web.schemas import DeliverSpec, JobRequest, OutputSpec

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.resources import Shared
    from ferryman.sinks.base import SinkRegistry
    from ferryman.web.accounts.who import Who


def specs(settings: dict[str, Any]) -> tuple[OutputSpec | None, DeliverSpec | None]:
    """The person's defaults as the request's parts (None: none set); ``request.invalid``
    for a setting no request could say."""
    try:
        output = None
        if settings.get("audio"):
            output = OutputSpec(kind="audio", format=settings["audio"])
        elif settings.get("quality"):
            output = OutputSpec(kind="video", quality=settings["quality"])
        deliver = None
        if settings.get("dest"):
            kind, _, chat = str(settings["dest"]).partition(":")
            deliver = DeliverSpec(to=kind, chat=chat or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FerrymanError("request.invalid", f"{where}: {first.get('msg')}") from None
    return output, deliver


def applied(body: JobRequest, who: Who) -> JobRequest:
    """``body`` with the person's defaults where it said nothing."""
    output, deliver = specs(who.settings)
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if output is not None and "output" not in given:
        changes["output"] = output
    if deliver is not None and "deliver" not in given:
        changes["deliver"] = deliver
    return body.model_copy(update=changes) if changes else body


def own_chat(who: Who, scheme: str, chat: str | None) -> str | None:
    """The chat a request to ``scheme`` names; for a person's ``telegram`` naming none,
    their own linked Telegram account (its id): the kind's own default, ``me``, is the
    server's Saved Messages, an administrator's only. A person with none linked names
    none (refused as ``account.dest_forbidden``, the next step saying to link one)."""
    if chat or scheme != "telegram" or who.admin or who.telegram is None:
        return chat
    return str(who.telegram)


def own_library(dest: str, who: Who) -> str:
    """``dest`` with the person's own library folder for a bare ``library:`` (``ops/who``)."""
    return asking.own_library(dest, who)


async def checked_dest(
    settings: dict[str, Any],
    who: Who,
    web_settings: Settings,
    sinks: SinkRegistry,
    shared: Shared | None,
) -> None:
    """A person's own default destination, checked when they set it as a job's would
    be at each job (a kind a client may name, their own library folder, a Telegram chat
    of theirs: ``ops/who.own_place`` through ``shared``, the engine's resources):
    refused now (``request.invalid``, ``account.dest_forbidden``), not at every later
    job (where it is asked again)."""
    _, deliver = specs(settings)
    if deliver is not None:
        chat = own_chat(who, deliver.to, deliver.chat)  # a bare telegram: their own
        asking.own_dest(who, sinks, f"{deliver.to}:{chat or ''}")
        dest = sinks.for_client(deliver.to, chat)  # as each job asks it
        await asking.own_place(who, sinks, dest, asking.allowed_places(web_settings), shared)


def library_setting(value: str) -> str:
    """A library folder an administrator gives a person: an absolute path on the server
    (``request.invalid`` else); "" takes it away."""
    if value and (not PurePath(value).is_absolute() or "?" in value or "\n" in value):
        raise FerrymanError("request.invalid", f"library: {value!r} is not an absolute folder")
    return value


async def notice_targets(given: str, settings: Settings) -> str:
    """A person's own notice URLs, checked as a job's ``--notify`` is: ``notify.bad_url``
    for a malformed one, ``notify.blocked`` for one the network guard would refuse."""
    from ferryman.engine.notify_egress import check_targets  # lazy: start-up
    from ferryman.engine.plumbing.notice_targets import check_target  # lazy: start-up

    checked = check_target(given)
    await check_targets(checked, settings)
    return checked
