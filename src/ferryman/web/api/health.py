"""``/healthz`` (the process answers; yt-dlp's version and age), ``/readyz`` (each thing a
job needs, and which one fails), ``/metrics`` (Prometheus' text, ``web.metrics``) and the
Telegram pool's figures per account for an administrator (the page's "Telegram accounts",
``static/pool.js``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ferryman.engine.ops.nodes import ready_workers
from ferryman.telegram.accounts import own_only, read_figures
from ferryman.timeouts import within
from ferryman.web.accounts.figures import account_lines as person_lines
from ferryman.web.accounts.identify import identify, required
from ferryman.web.accounts.who import Me, require_admin
from ferryman.web.api.sites import yt_dlp_view
from ferryman.web.core import API, Web
from ferryman.web.metrics import account_lines, render
from ferryman.web.results import writable_with_space
from ferryman.web.schemas import TelegramAccount, TelegramAccounts


def routes(app: FastAPI, web: Web) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, object]:
        """The process answers; with yt-dlp's version and age (``yt_dlp``: where tokens
        are required, to an administrator only, as ``/readyz``'s details)."""
        body: dict[str, object] = {"status": "ok"}
        _, who, problem = await identify(web, request)
        if await required(web) and (problem is not None or not who.admin):
            return body
        found = await asyncio.to_thread(yt_dlp_view, web.clock.now())
        return {**body, "yt_dlp": found.model_dump()}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """Each thing a job needs, and which one fails (with tokens, the details only
        to a caller with one: versions, disk space and jobs are not for anyone)."""
        checks = await readiness(web)
        ok = all(c["ok"] for c in checks.values())
        _, who, problem = await identify(web, request)
        if await required(web) and (problem is not None or not who.admin):
            return JSONResponse({"ready": ok}, status_code=200 if ok else 503)
        stuck = await web.tracker.stuck()
        body = {"ready": ok, "checks": checks, "stuck": stuck}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        return Response(await metrics_text(web), media_type="text/plain; version=0.0.4")

    @app.get(f"{API}/telegram/accounts", tags=["admin"], response_model=TelegramAccounts)
    async def telegram_accounts(who: Me) -> TelegramAccounts:
        """Each Telegram account's albums, speed, waits and give-ways since the engine
        started, as ``ferryman -v status`` and ``/metrics`` show them."""
        require_admin(who)
        figures = await asyncio.to_thread(read_figures, web.settings)
        return pool_view(figures, web.clock.now())


async def readiness(web: Web) -> dict[str, dict[str, Any]]:
    settings = web.settings
    checks: dict[str, dict[str, Any]] = {}

    async def check(name: str, probe: Callable[[], Awaitable[str]]) -> None:
        try:
            checks[name] = {"ok": True, "detail": await probe()}
        except Exception as exc:
            checks[name] = {"ok": False, "detail": str(exc) or type(exc).__name__}

    async def store() -> str:
        await within(web.store.idle(), 5, web.clock)
        return "reachable"

    async def work_area() -> str:
        return await asyncio.to_thread(writable_with_space, settings.work_dir, settings.space_floor)

    async def media() -> str:
        return await asyncio.to_thread(_media_libraries)

    async def workers() -> str:
        if web.engine_alive is None:  # ferryman run workers: their heartbeats tell
            return await ready_workers(web.store, settings.lease_seconds)
        if not web.engine_alive():
            raise RuntimeError("the engine in this process has stopped")
        return "the engine runs in this process"

    async def results() -> str:
        return await web.results.check()

    for name, probe in (
        ("store", store),
        ("work_area", work_area),
        ("media", media),
        ("workers", workers),
        ("results", results),
    ):
        await check(name, probe)
    return checks


def pool_view(figures: dict[str, dict[str, Any]], now: float) -> TelegramAccounts:
    """The figures file's rows as the API gives them (a field it lacks counts 0)."""
    rows: list[TelegramAccount] = []
    for name, f in figures.items():
        if not isinstance(f, dict):
            continue
        seconds, sent = float(f.get("seconds", 0)), int(f.get("bytes", 0))
        rows.append(
            TelegramAccount(
                name=name,
                own=bool(f.get("own", not rows)),  # written before ``own``: the first
                bot=bool(f.get("bot")),
                premium=bool(f.get("premium")),
                albums=int(f.get("albums", 0)),
                bytes=sent,
                seconds=seconds,
                bytes_per_second=sent / seconds if seconds > 0 else 0.0,
                waits=int(f.get("waits", 0)),
                refused=int(f.get("refused", 0)),
                waiting_seconds=max(0.0, float(f.get("waiting_until", 0)) - now),
            )
        )
    note = own_only(figures) if len(rows) > 1 else None
    return TelegramAccounts(accounts=rows, note=note)


def _media_libraries() -> str:
    import av  # lazy: start-up (of `ferryman web`)
    import yt_dlp  # lazy: start-up (of `ferryman web`)

    av.codec.Codec("h264", "r")
    return f"PyAV {av.__version__}, yt-dlp {yt_dlp.version.__version__}"


async def metrics_text(web: Web) -> str:
    figures = await web.store.figures()
    by_state: dict[str, int] = {}
    for (_, state), n in figures["jobs_by_source"].items():
        by_state[state] = by_state.get(state, 0) + n
    extra = {
        "queue_depth": sum(n for s, n in by_state.items() if s not in _ENDED),
        "event_clients": web.stream.clients,
        "results_bytes": await web.results.used_bytes(),
    }
    pool = account_lines(await asyncio.to_thread(read_figures, web.settings))
    people = await person_lines(web)  # per person, when there are accounts
    text = render(figures, by_state, extra, web.stage_times) + pool
    return text + "".join(f"{line}\n" for line in people)


_ENDED = ("done", "failed", "cancelled")
