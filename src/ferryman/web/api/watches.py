"""``/api/v1/watches``: list, add, check now, pause, resume and remove watches, through
the same service as ``ferryman watch`` (``engine/ops/watch_admin``), so a bad option,
destination or source is refused here with the CLI's code and words. As for a job, the
destination is a kind and, where the kind takes one from a client, a target (a
library's folder is the server's choice), and an error carries its next step in the
page's words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, ConfigDict, Field

from ferryman.engine.ops import watch_admin
from ferryman.engine.ops.limits import of_watches
from ferryman.engine.runner import new_owner
from ferryman.errors import FerrymanError, page_step
from ferryman.links.profile import parse_token
from ferryman.model import MAX_ROW_ID
from ferryman.sinks.base import SinkRegistry
from ferryman.web.accounts import defaults
from ferryman.web.accounts.who import Me, Who
from ferryman.web.core import API, Web

WatchId = Annotated[int, FastAPIPath(ge=1, le=MAX_ROW_ID, description="The watch's number.")]


class WatchRequest(BaseModel):
    """What ``ferryman watch add`` takes, by the same names (``to`` is ``--to``)."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(..., min_length=1, max_length=4096)
    to: str = Field(..., min_length=1, max_length=1024)
    every: str = "1h"
    window: str | None = None
    since: str = "now"
    match: str | None = None
    skip_match: str | None = None
    min_duration: float | None = Field(None, ge=0)
    max_duration: float | None = Field(None, ge=0)
    kind: str | None = None
    quality: str | None = None
    audio: str | None = None
    bitrate: int | None = Field(None, ge=32, le=320)
    mute: bool = False
    notify: str | None = Field(None, max_length=4096)
    then: str | None = Field(None, max_length=4096)


def routes(app: FastAPI, web: Web) -> None:
    async def view_of(watch_id: int) -> dict[str, Any]:
        return _with_next(await watch_admin.view_of(web.store, watch_id), web.sinks)

    @app.get(f"{API}/watches", tags=["watches"])
    async def list_watches(who: Me) -> dict[str, Any]:
        """Every watch of yours (an administrator: everyone's): what it follows, its
        last and next look, what went wrong."""
        views = await watch_admin.list_views(web.store, who)
        return {"watches": [_with_next(v, web.sinks) for v in views]}

    @app.post(f"{API}/watches", status_code=201, tags=["watches"])
    async def add(body: WatchRequest, who: Me) -> dict[str, Any]:
        """Watch a source: every ``every``, its new entries become jobs to ``to`` (a
        person's ``library:``: their own library folder)."""
        to = _client_dest(web, body.to, who)
        asked = watch_admin.NewWatch(**(body.model_dump() | {"to": to}))
        watch, _ = await watch_admin.add_watch(
            web.store, web.settings, asked, who=who, resources=web.resources
        )
        return await view_of(watch.id)

    @app.post(f"{API}/watches/{{watch_id}}/check", tags=["watches"])
    async def check(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Look now (outside its window too) and say what was found; ``busy``: another
        checker holds it at the moment."""
        found = await watch_admin.check_now(
            web.store,
            web.settings,
            watch_id,
            owner=new_owner(),
            clock=web.clock,
            who=who,
            limited=of_watches(web.store),
        )
        if found is None:
            return {"watch": watch_id, "busy": True}
        return _with_next({**watch_admin.found_view(found), "busy": False}, web.sinks)

    @app.post(f"{API}/watches/{{watch_id}}/pause", tags=["watches"])
    async def pause(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Stop looking; what it saw is kept."""
        await watch_admin.set_paused(web.store, watch_id, True, who=who)
        return await view_of(watch_id)

    @app.post(f"{API}/watches/{{watch_id}}/resume", tags=["watches"])
    async def resume(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Look again at once, then every period."""
        await watch_admin.set_paused(web.store, watch_id, False, who=who)
        return await view_of(watch_id)

    @app.delete(f"{API}/watches/{{watch_id}}", tags=["watches"])
    async def remove(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Forget the watch and what it saw; the jobs it made stay."""
        await watch_admin.remove_watch(web.store, watch_id, who=who)
        return {"removed": watch_id}


def _with_next(view: dict[str, Any], sinks: SinkRegistry) -> dict[str, Any]:
    """A watch's (or a check's) error with its next step in the page's words, and a
    watch's output and destination as a person says them (``output_text``: "MP3 192
    kbps"; ``dest_text``: "the library")."""

    error = view.get("error")
    if error:
        view["error"] = {**error, "next": page_step(error["code"])}
    if "dest" in view:
        view["dest_text"] = sinks.words(view["dest"])
    if "output" in view:
        token = view["output"]
        try:
            view["output_text"] = parse_token(token).describe() if token else None
        except FerrymanError:
            view["output_text"] = token
    return view


def _client_dest(web: Web, to: str, who: Who) -> str:
    """``library:``, ``link:``, ``telegram:@chat``: a kind, and a target only for a kind
    that takes one from a client (``library:/srv/x`` is refused: the server's folder);
    a person's bare ``telegram:`` is their own linked account (``defaults.own_chat``)."""
    scheme, _, target = to.partition(":")
    scheme, target = scheme.strip().lower(), target.strip()
    plain = web.sinks.for_client(scheme, None)  # an unknown kind is refused here
    target = defaults.own_chat(who, scheme, target or None) or ""
    if not target:
        return plain
    try:
        return web.sinks.for_client(scheme, target)
    except FerrymanError:
        raise FerrymanError(
            "request.invalid",
            f"to '{to}': the server's settings say where {scheme}: puts files; give '{scheme}:'",
        ) from None
