"""What makes the page an app a phone keeps: the web app manifest (name, icons, colours)
and its share target, so "Share → ferryman" on a phone hands a link to the page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

MANIFEST: dict[str, Any] = {
    "name": "ferryman",
    "short_name": "ferryman",
    "description": "Archives, media files and links in; playable media out.",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#2563eb",
    "icons": [
        {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": "/static/icon-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
        {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
    ],
    # A shared page or text arrives as GET /share?url=…&text=…&title=…
    "share_target": {
        "action": "/share",
        "method": "GET",
        "params": {"title": "title", "text": "text", "url": "url"},
    },
}


def routes(app: FastAPI) -> None:
    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> JSONResponse:
        return JSONResponse(MANIFEST, media_type="application/manifest+json")

    @app.get("/share", include_in_schema=False)
    async def share(url: str = "", text: str = "", title: str = "") -> RedirectResponse:
        """To the page with what was shared in ``add``: the page finds the links in it
        (an app shares "Look at this https://…" as text, another the bare url)."""
        shared = "\n".join(part for part in (url, text) if part.strip())[:4000]
        return RedirectResponse("/?" + urlencode({"add": shared}), status_code=303)
