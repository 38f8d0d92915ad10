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
from ferryman.engine.runner import new_owner
from ferryman.errors import FerrymanError, page_step
from ferryman.links.profile import parse_token
from ferryman.sinks.base import SinkRegistry
from ferryman.web.accounts.who import Me
from ferryman.web.core import API, Web

WatchId = Annotated[int, FastAPIPath(ge=1, le=2**63 - 1, description="The watch's number.")]


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
        views = await watch_admin.list_views(web.store)
        whose = await web.store.watch_accounts()
        return {
            "watches": [_with_next(v, web.sinks) for v in views if who.sees(whose.get(v["id"]))]
        }

    @app.post(f"{API}/watches", status_code=201, tags=["watches"])
    async def add(body: WatchRequest, who: Me) -> dict[str, Any]:
        """Watch a source: every ``every``, its new entries become jobs to ``to``."""
        to = _client_dest(web, body.to)
        asked = watch_admin.NewWatch(**(body.model_dump() | {"to": to}))
        watch, _ = await watch_admin.add_watch(web.store, web.settings, asked)
        if who.owner is not None:
            await web.store.set_watch_account(watch.id, who.owner)
        return await view_of(watch.id)

    async def own(who: Me, watch_id: int) -> None:
        """Another's watch is answered as one that does not exist."""
        whose = await web.store.watch_accounts()
        if watch_id in whose and not who.sees(whose[watch_id]):
            raise FerrymanError("watch.not_found", f"there is no watch {watch_id}")

    @app.post(f"{API}/watches/{{watch_id}}/check", tags=["watches"])
    async def check(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Look now (outside its window too) and say what was found; ``busy``: another
        checker holds it at the moment."""
        await own(who, watch_id)
        found = await watch_admin.check_now(
            web.store, web.settings, watch_id, owner=new_owner(), clock=web.clock
        )
        if found is None:
            return {"watch": watch_id, "busy": True}
        return _with_next({**watch_admin.found_view(found), "busy": False}, web.sinks)

    @app.post(f"{API}/watches/{{watch_id}}/pause", tags=["watches"])
    async def pause(watch_id: WatchId, who: Me) -> dict[str, Any]:
        await own(who, watch_id)
        """Stop looking; what it saw is kept."""
        await watch_admin.set_paused(web.store, watch_id, True)
        return await view_of(watch_id)

    @app.post(f"{API}/watches/{{watch_id}}/resume", tags=["watches"])
    async def resume(watch_id: WatchId, who: Me) -> dict[str, Any]:
        await own(who, watch_id)
        """Look again at once, then every period."""
        await watch_admin.set_paused(web.store, watch_id, False)
        return await view_of(watch_id)

    @app.delete(f"{API}/watches/{{watch_id}}", tags=["watches"])
    async def remove(watch_id: WatchId, who: Me) -> dict[str, Any]:
        """Forget the watch and what it saw; the jobs it made stay."""
        await own(who, watch_id)
        await watch_admin.remove_watch(web.store, watch_id)
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


def _client_dest(web: Web, to: str) -> str:
    """``library:``, ``link:``, ``telegram:@chat``: a kind, and a target only for a kind
    that takes one from a client (``library:/srv/x`` is refused: the server's folder)."""
    scheme, _, target = to.partition(":")
    scheme, target = scheme.strip().lower(), target.strip()
    plain = web.sinks.for_client(scheme, None)  # an unknown kind is refused here
    if not target:
        return plain
    try:
        return web.sinks.for_client(scheme, target)
    except FerrymanError:
        raise FerrymanError(
            "request.invalid",
            f"to '{to}': the server's settings say where {scheme}: puts files; give '{scheme}:'",
        ) from None
