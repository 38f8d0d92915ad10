"""The FastAPI application: set-up (the static files, the page, the API's description,
errors as bodies with a code and a next step) and its parts, one module each: ``auth``
(tokens, sessions, rate limits, security headers) and the API's, in ``web/api/``: ``jobs``,
``uploads``, ``events`` (WebSocket, Server-Sent Events, polling), ``downloads`` (signed links),
``health`` (``/healthz``, ``/readyz``, ``/metrics``), ``watches``, ``cookies``, ``rclone``,
``library``, ``sites`` (which sites work now), ``presets``.
What they share (``Web``, the API prefix, error bodies) is in ``core``.
"""

from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ferryman.errors import FerrymanError
from ferryman.telegram.accounts import FIGURES
from ferryman.web import auth, pwa
from ferryman.web.accounts import passkeys
from ferryman.web.accounts import routes as account_routes
from ferryman.web.accounts.identify import identify
from ferryman.web.api import (
    cookies,
    downloads,
    events,
    health,
    jobs,
    library,
    presets,
    rclone,
    sites,
    uploads,
    watches,
)
from ferryman.web.api.sites import sites_view
from ferryman.web.core import Web, error_body, error_response
from ferryman.web.page import api_page, login_page, main_page, sites_panel
from ferryman.web.preset_choice import offered, preset_field
from ferryman.web.telegram_choice import page_chat

__all__ = ["Web", "create_app"]


def create_app(web: Web) -> FastAPI:
    app = FastAPI(
        title="ferryman",
        summary="Archives, media files and links in; playable media out.",
        docs_url=None,  # served by _pages, without a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    static = resources.files("ferryman.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _errors(app)
    auth.install(app, web)
    _pages(app, web)
    jobs.routes(app, web)
    uploads.routes(app, web)
    events.routes(app, web)
    downloads.routes(app, web)
    health.routes(app, web)
    watches.routes(app, web)
    cookies.routes(app, web)
    rclone.routes(app, web)
    library.routes(app, web)
    sites.routes(app, web)
    presets.routes(app, web)
    account_routes.routes(app, web)
    passkeys.routes(app, web)
    pwa.routes(app)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(FerrymanError)
    async def ferryman_error(_request: Request, exc: FerrymanError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))
        return JSONResponse(error_body("request.invalid", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "request.invalid"
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )


def _pages(app: FastAPI, web: Web) -> None:
    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        _, who, problem = await identify(web, request)
        if problem is not None:  # the name-and-password form only once someone has one
            return HTMLResponse(login_page(accounts=await web.book.active(web.store)))
        views = await web.tracker.views(limit=50, sees=who.sees)  # a person's own only
        figures = web.settings.telegram_dir / FIGURES  # the engine's Telegram accounts
        now = web.clock.now()
        sees = None if who.admin else who.sees  # a person's own links' sites only
        found = await asyncio.to_thread(sites_view, web.settings, now, sees)
        offers = await asyncio.to_thread(offered, web.settings.data_dir, who)
        return HTMLResponse(
            main_page(
                views,
                telegram=bool(web.settings.telegram.api_id),
                playlist_max=web.settings.links.playlist_max,
                pool=who.admin and await asyncio.to_thread(figures.exists),
                sites=sites_panel(found, now),
                presets=preset_field(offers),
                chat=page_chat(who),  # a person's own Telegram account, never ``me``
            )
        )

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(api_page(app.openapi()))
