"""``/d/{token}``: a signed download link, one file (Range requests) or the whole job as
a zip made while it is sent; a file in a bucket is a redirect to its presigned URL.
``/p/{token}``: a page playing a Telegram job's video or sound from its ``/d/`` link."""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.background import BackgroundTask

from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.sinks.telegram_files import telegram_link
from ferryman.web.accounts.link_grants import check_bound
from ferryman.web.core import Web
from ferryman.web.result_files import disposition
from ferryman.web.signing import WHOLE_JOB, Grant
from ferryman.web.telegram_links import player_page, serve_file


async def _granted(web: Web, token: str) -> tuple[Grant, Job]:
    """The link's grant and its job, checked as every link is: signed here, not expired,
    its job kept, its person (and token or session) still there."""
    grant = web.signer.check(token, web.clock.now())
    if grant.job_id == 0:
        raise FerrymanError("link.tampered", "not a download link")
    try:
        job = await web.store.get_job(grant.job_id)
    except FerrymanError as error:
        if error.code != "job.not_found":
            raise
        raise FerrymanError("link.gone", f"job {grant.job_id} was removed") from None
    await check_bound(web, grant, job)  # a capability, until its person is gone
    return grant, job


def routes(app: FastAPI, web: Web) -> None:
    @app.get("/p/{token}", tags=["downloads"], response_class=HTMLResponse)
    async def player(token: str) -> HTMLResponse:
        """A page that plays the video or sound a Telegram job's ``/d/`` link (the same
        token) names, read from Telegram as the player asks for it."""
        grant, job = await _granted(web, token)
        stored = await telegram_link(web.store.sink_state("telegram"), job.id, grant.path)
        if stored is None:
            raise FerrymanError("link.gone", f"job {job.id}: no video kept in Telegram here")
        return HTMLResponse(player_page(stored.name, stored.mime, f"/d/{token}"))

    @app.get("/d/{token}", tags=["downloads"])
    @app.head("/d/{token}", include_in_schema=False)
    async def download(token: str, request: Request) -> Response:
        """A signed download link: one file (Range requests work) or, for ``*``, the
        whole job as a zip made while it is sent; a file the job sent to Telegram is
        read from Telegram as it is sent (``web/telegram_links``)."""
        grant, job = await _granted(web, token)
        if grant.path.startswith("tg:"):
            stored = await telegram_link(web.store.sink_state("telegram"), job.id, grant.path)
            if stored is None or web.telegram is None:
                raise FerrymanError("link.gone", f"job {job.id}: not kept in Telegram")
            head = request.method == "HEAD"
            return await serve_file(web.telegram, stored, request.headers.get("range"), head=head)
        if grant.path == WHOLE_JOB:
            kept = await web.results.files(grant.job_id)
            if not kept:  # said before any byte is sent
                raise FerrymanError("link.gone", f"job {grant.job_id} has no files kept")
            return StreamingResponse(
                web.results.zip_stream(grant.job_id, kept),
                media_type="application/zip",
                headers={"Content-Disposition": disposition(f"{job.name}.zip")},
            )
        found = await web.results.locate(grant.job_id, grant.path)
        if isinstance(found, str):  # in a bucket: fetched from there
            return RedirectResponse(found, status_code=307, headers={"Cache-Control": "no-store"})
        return FileResponse(  # served from the handle opened inside the job's folder
            found.reopened(),
            stat_result=found.st,
            media_type=mimetypes.guess_type(found.path.name)[0] or "application/octet-stream",
            headers={
                "Content-Disposition": disposition(found.path.name),
                "Cache-Control": "private",
            },
            background=BackgroundTask(found.close),
        )
