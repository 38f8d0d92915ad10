"""A Library job's place, for the page: ``GET /api/v1/jobs/{id}/library`` (the root,
the folder under it, the files with signed preview links), and ``/l/{token}``, a
signed link to one preview (``web.library_view``), as ``/d/`` is to a result."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse

from ferryman.errors import FerrymanError
from ferryman.web import library_view
from ferryman.web.accounts.link_grants import bind_for, check_bound
from ferryman.web.accounts.who import Me, own_job
from ferryman.web.core import API, JobId, Web

PREFIX = "library-preview:"  # what a /l/ token grants: never a /d/ results path
SHOWN = 24  # previews a card shows at most


def routes(app: FastAPI, web: Web) -> None:
    @app.get(f"{API}/jobs/{{job_id}}/library", tags=["jobs"])
    async def where(
        job_id: JobId,
        who: Me,
        limit: int = Query(SHOWN, ge=0, le=1000, description="Files listed."),
    ) -> dict[str, Any]:
        """Where a Library job's files went: ``root`` (the library's folder on the
        server), ``folder`` (under it), and the first files with their previews."""
        job = await own_job(web, who, job_id)
        root = library_view.library_root(web.settings, job.dest)
        if root is None:
            raise FerrymanError("request.invalid", f"job {job_id} is not delivered to the library")
        files = await asyncio.to_thread(library_view.delivered, root, job)
        expires = web.clock.now() + web.settings.web.link_ttl
        bind = bind_for(job.account, who)
        return {
            "root": str(root),
            "folder": library_view.folder_of(files),
            "files_total": len(files),
            "files": [
                {
                    "name": f.name,
                    "path": f.path,
                    "kind": f.kind,
                    "preview": f"/l/{web.signer.sign(job_id, PREFIX + f.path, expires, bind)}"
                    if f.kind in library_view.PREVIEWED
                    else None,
                }
                for f in files[:limit]
            ],
        }

    @app.get("/l/{token}", tags=["downloads"])
    async def preview(token: str) -> FileResponse:
        """A signed link to a preview of a Library job's photo or video."""
        grant = web.signer.check(token, web.clock.now())
        if grant.job_id == 0 or not grant.path.startswith(PREFIX):
            raise FerrymanError("link.tampered", "not a preview link")
        job = await web.store.get_job(grant.job_id)
        await check_bound(web, grant, job)
        path = await asyncio.to_thread(
            library_view.preview,
            web.settings,
            job,
            grant.path.removeprefix(PREFIX),
            web.decoder,
        )
        return FileResponse(path, media_type="image/webp", headers={"Cache-Control": "private"})
