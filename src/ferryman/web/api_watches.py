"""``/api/v1/watches``: list, add, check now, pause, resume and remove watches, through
the same service as ``ferryman watch`` (``engine/watch_admin``), so a bad option,
destination or source is refused here with the CLI's code and words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, ConfigDict, Field

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


def routes(app: FastAPI, web: Web) -> None:
    from ferryman.engine import watch_admin
    from ferryman.engine.runner import new_owner

    @app.get(f"{API}/watches", tags=["watches"])
    async def list_watches() -> dict[str, Any]:
        """Every watch: what it follows, its last and next look, what went wrong."""
        return {"watches": await watch_admin.list_views(web.store)}

    @app.post(f"{API}/watches", status_code=201, tags=["watches"])
    async def add(body: WatchRequest) -> dict[str, Any]:
        """Watch a source: every ``every``, its new entries become jobs to ``to``."""
        asked = watch_admin.NewWatch(**body.model_dump())
        watch, _ = await watch_admin.add_watch(web.store, web.settings, asked)
        return await watch_admin.view_of(web.store, watch.id)

    @app.post(f"{API}/watches/{{watch_id}}/check", tags=["watches"])
    async def check(watch_id: WatchId) -> dict[str, Any]:
        """Look now (outside its window too) and say what was found; ``busy``: another
        checker holds it at the moment."""
        found = await watch_admin.check_now(web.store, web.settings, watch_id, owner=new_owner())
        if found is None:
            return {"watch": watch_id, "busy": True}
        return {**watch_admin.found_view(found), "busy": False}

    @app.post(f"{API}/watches/{{watch_id}}/pause", tags=["watches"])
    async def pause(watch_id: WatchId) -> dict[str, Any]:
        """Stop looking; what it saw is kept."""
        await watch_admin.set_paused(web.store, watch_id, True)
        return await watch_admin.view_of(web.store, watch_id)

    @app.post(f"{API}/watches/{{watch_id}}/resume", tags=["watches"])
    async def resume(watch_id: WatchId) -> dict[str, Any]:
        """Look again at once, then every period."""
        await watch_admin.set_paused(web.store, watch_id, False)
        return await watch_admin.view_of(web.store, watch_id)

    @app.delete(f"{API}/watches/{{watch_id}}", tags=["watches"])
    async def remove(watch_id: WatchId) -> dict[str, Any]:
        """Forget the watch and what it saw; the jobs it made stay."""
        await watch_admin.remove_watch(web.store, watch_id)
        return {"removed": watch_id}
