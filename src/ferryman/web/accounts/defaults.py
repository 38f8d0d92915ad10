"""A person's own defaults for a job added without them: where it goes (``dest``: a
destination kind, ``telegram:@name`` with its target) and what a link becomes (``quality``
a video's height, or ``audio`` a format). A request that says either keeps its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ferryman.errors import FerrymanError
from ferryman.web.schemas import DeliverSpec, JobRequest, OutputSpec

if TYPE_CHECKING:
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
