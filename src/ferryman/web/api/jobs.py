"""``/api/v1/jobs``: start a job from a link or an upload (the registries decide which
inputs and destinations), list, look at, cancel, retry, give a password, new links, remove one
or clear the ended ones (with their results and uploads)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, Query, Response

from ferryman.engine.ops import control, intake
from ferryman.engine.ops import who as asking
from ferryman.errors import FerrymanError
from ferryman.model import MAX_ROW_ID, JobState
from ferryman.net.own_thread import on_own_thread
from ferryman.sinks.telegram_files import in_telegram
from ferryman.web import guard, library_view
from ferryman.web.accounts import defaults, limits
from ferryman.web.accounts.who import Me, Who, own_job
from ferryman.web.core import API, JobId, Web, error_body
from ferryman.web.file_views import page_of
from ferryman.web.schemas import (
    ENDED,
    BulkRequest,
    ClearRequest,
    FilesPage,
    JobRequest,
    PasswordRequest,
)

Shown = Literal["all", "queue", "done", "failed"]
SHOWN: dict[str, Callable[[JobState], bool]] = {  # the page's views of the list
    "all": lambda state: True,
    "queue": lambda state: not state.terminal,
    "done": lambda state: state is JobState.DONE,
    "failed": lambda state: state in (JobState.FAILED, JobState.CANCELLED),
}
Before = Query(None, ge=1, le=MAX_ROW_ID, description="Only jobs older than this one (a cursor).")
ShownQuery = Query("all", description="all, queue (not ended), done, failed.")
Offset = Query(0, ge=0, le=2**31, description="The first file's index.")
PAGE_MAX = 1000


def routes(app: FastAPI, web: Web) -> None:
    async def view(job_id: int) -> dict[str, Any]:
        return await web.tracker.detail(job_id)

    @app.post(f"{API}/jobs", status_code=202, tags=["jobs"])
    async def create(body: JobRequest, who: Me) -> dict[str, Any]:
        """Start a job from a link or a finished upload (a person's, refused past
        their limits: ``account.limit_*``)."""
        await limits.check(web, who)  # before an upload is looked at (intake checks again)
        body = defaults.applied(body, who)  # the person's own, where the request says none
        profile = body.output.profile()
        to, chat = body.deliver.to, defaults.own_chat(who, body.deliver.to, body.deliver.chat)
        dest = defaults.own_library(web.sinks.for_client(to, chat), who)
        # A person's place, a Telegram chat asked of Telegram (``ops/who.own_place``).
        places = asking.allowed_places(web.settings)
        dest = await asking.own_place(who, web.sinks, dest, places, web.resources)
        upload = None
        if body.upload_id is not None:
            upload = web.uploads.finished(body.upload_id)
            source: str = str(upload.path)
        else:
            source = web.sources.remote_uri((body.source or "").strip())  # never a path
            w = web.settings.web  # its host is the address bound (``server.serve``)
            private = guard.private_links_refused(w.host, w.tokens, w.allow_private_links)
            allowed = web.settings.network.private_allowed
            address = web.sources.address(source)
            await on_own_thread(guard.check_link, address, allowed, private=private)
        try:
            job = await intake.add_source(
                web.store,
                source,
                dest=dest,
                password=body.password,
                force=body.force,
                settings=web.settings,
                profile=profile,
                sources=web.sources,
                sinks=web.sinks,
                who=who,
            )
        except FerrymanError:
            if upload is not None:  # refused, nothing recorded: it would lie there for days
                await asyncio.to_thread(web.uploads.remove, upload.id)
            raise
        web.tracker.touch(job.id)
        return {
            "id": job.id,
            "status": job.state.value,
            "error": error_body(job.error_code, job.error_message or "")["error"]
            if job.error_code
            else None,
            "links": {"self": f"{API}/jobs/{job.id}", "events": f"{API}/events?jobs={job.id}"},
        }

    @app.get(f"{API}/jobs", tags=["jobs"])
    async def list_jobs(
        who: Me,
        limit: int = 100,
        before: int | None = Before,
        shown: Shown = ShownQuery,
    ) -> dict[str, Any]:
        """The newest jobs' views, newest first (``limit`` 1 to 1,000). ``next_before``
        is the cursor of the next older page (``?before=``), null when none is left."""
        size = max(1, min(limit, 1000))
        views = await web.tracker.views(
            limit=size + 1, before=before, keep=SHOWN[shown], sees=who.sees
        )
        more = len(views) > size
        views = views[:size]
        return {"jobs": views, "next_before": views[-1]["id"] if more else None}

    @app.get(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    async def get_job(job_id: JobId, who: Me) -> dict[str, Any]:
        await own_job(web, who, job_id)
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/cancel", tags=["jobs"])
    async def cancel(job_id: JobId, who: Me) -> dict[str, Any]:
        await control.cancel_job(web.store, job_id, who=who)
        web.tracker.touch(job_id)
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/retry", tags=["jobs"])
    async def retry(job_id: JobId, who: Me) -> dict[str, Any]:
        """Queue an ended job again (a person's: within their limits, ``account.limit_*``)."""
        web.tracker.restarted(await control.retry_job(web.store, job_id, who=who))
        return await view(job_id)

    @app.post(f"{API}/jobs/{{job_id}}/password", tags=["jobs"])
    async def password(job_id: JobId, body: PasswordRequest, who: Me) -> dict[str, Any]:
        await control.give_password(web.store, job_id, body.password, who=who)
        web.tracker.touch(job_id)
        return await view(job_id)

    async def remove(job_id: int, who: Who) -> None:
        """The job's rows and work folder (``control.remove_job``, as ``ferryman
        remove``), then its results and the upload it read from."""
        removed = await control.remove_job(
            web.store, web.settings, job_id, sinks=web.sinks, who=who
        )
        await web.results.remove(job_id)
        try:
            path = web.sources.for_uri(removed.job.source).local_path(removed.job.source)
        except FerrymanError:  # a kind of input no longer known: nothing local
            path = None
        if path is not None:
            await asyncio.to_thread(web.uploads.remove_source, path)
        await asyncio.to_thread(library_view.forget, web.settings, job_id)
        web.tracker.forget(job_id)

    @app.delete(f"{API}/jobs/{{job_id}}", status_code=204, tags=["jobs"])
    async def delete_job(job_id: JobId, who: Me) -> Response:
        """Remove an ended job with its results and its upload (a running one: cancel
        it first, else ``job.not_ended``)."""
        await remove(job_id, who)
        return Response(status_code=204)

    @app.post(f"{API}/jobs/clear", tags=["jobs"])
    async def clear(who: Me, body: ClearRequest | None = None) -> dict[str, Any]:
        """Remove every ended job in the given states (by default done, failed and
        cancelled); running ones stay. Answers the numbers removed."""
        states = set(body.status if body is not None else ENDED)
        gone = []
        for job in await web.store.list_jobs():
            if job.state.value in states and who.sees(job.account):
                try:
                    await remove(job.id, who)
                except FerrymanError as exc:  # retried or removed meanwhile: left
                    if exc.code not in ("job.not_found", "job.not_ended"):
                        raise
                    continue
                gone.append(job.id)
        return {"removed": gone}

    @app.post(f"{API}/jobs/bulk", tags=["jobs"])
    async def bulk(body: BulkRequest, who: Me) -> dict[str, Any]:
        """Retry, cancel or remove several jobs in one request (up to 1,000). Each is
        done alone: one that cannot be (not ended, gone) is listed under ``refused`` with
        its error, and the others go on."""
        done: list[int] = []
        refused: list[dict[str, Any]] = []
        for job_id in dict.fromkeys(body.ids):  # each once, in the order given
            try:
                if body.action == "retry":  # a person's limits stop it as adding does
                    web.tracker.restarted(await control.retry_job(web.store, job_id, who=who))
                elif body.action == "cancel":
                    await control.cancel_job(web.store, job_id, who=who)
                    web.tracker.touch(job_id)
                else:
                    await remove(job_id, who)
            except FerrymanError as exc:
                refused.append({"id": job_id, **error_body(exc.code, exc.message)})
                continue
            done.append(job_id)
        return {"action": body.action, "done": done, "refused": refused}

    @app.get(f"{API}/jobs/{{job_id}}/files", tags=["jobs"], response_model=FilesPage)
    async def files(
        job_id: JobId,
        who: Me,
        offset: int = Offset,
        limit: int = Query(60, ge=1, le=PAGE_MAX, description="Files in the page."),
    ) -> dict[str, Any]:
        """A page of a link job's files with signed links (a job's view carries only the
        first 60: ``result.next_offset`` says where the next page starts)."""
        await own_job(web, who, job_id)
        return await web.tracker.files(job_id, offset, limit)

    @app.post(f"{API}/jobs/{{job_id}}/links", tags=["jobs"])
    async def links(
        job_id: JobId,
        who: Me,
        offset: int = Offset,
        limit: int | None = Query(None, ge=1, le=PAGE_MAX, description="Files; none: all."),
    ) -> dict[str, Any]:
        """New download links for the job's files (the old ones keep their expiry): all
        of them, or a page as ``GET …/files`` gives."""
        job = await own_job(web, who, job_id)
        if not web.sinks.keeps_results(job.dest) and not in_telegram(job.dest, web.sinks):
            raise FerrymanError("request.invalid", f"job {job_id} is not delivered as links")
        found = await web.links_of(job, who)
        return page_of(found, offset, limit if limit is not None else len(found["files"]))
