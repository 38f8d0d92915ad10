"""``/api/v1/uploads``: a resumable upload (begin, look, append a piece); a finished one
becomes a job through ``api.jobs``."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request

from ferryman.web.core import API, Web
from ferryman.web.schemas import UploadRequest


def routes(app: FastAPI, web: Web) -> None:
    @app.post(f"{API}/uploads", status_code=201, tags=["uploads"])
    async def create(body: UploadRequest) -> dict[str, object]:
        """Begin an upload; send its bytes with PUT and Content-Range."""
        upload = await asyncio.to_thread(web.uploads.create, body.name, body.size)
        return upload.view()

    @app.get(f"{API}/uploads/{{upload_id}}", tags=["uploads"])
    async def status(upload_id: str) -> dict[str, object]:
        return web.uploads.get(upload_id).view()

    @app.put(f"{API}/uploads/{{upload_id}}", tags=["uploads"])
    async def piece(upload_id: str, request: Request) -> dict[str, object]:
        """Append one piece (``Content-Range: bytes START-END/SIZE``)."""
        upload = await web.uploads.append(
            upload_id, request.headers.get("content-range"), request.stream()
        )
        return upload.view()
