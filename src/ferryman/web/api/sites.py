"""``/api/v1/sites``: which sites work now. yt-dlp's version and age, and per site (yt-dlp's
extractor) the last day's links: how many came, how many failed and with which codes,
and the latest (``links/health``, written as each link's download ends). Anyone signed in
may ask; a person is shown their own jobs' links only (which sites they used, and when,
are theirs), an administrator everyone's. The page shows the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import FastAPI

from ferryman.config import Settings
from ferryman.links.health import KEEP_SECONDS, extractors, summary
from ferryman.web.accounts.who import Me
from ferryman.web.core import API, Web
from ferryman.web.schemas import SiteRecord, Sites, YtDlp


def routes(app: FastAPI, web: Web) -> None:
    @app.get(f"{API}/sites", tags=["health"], response_model=Sites)
    async def sites(who: Me) -> Sites:
        """yt-dlp's version and age, and each site's links of the last day: the asking
        person's own jobs' (an administrator's: everyone's)."""
        sees = None if who.admin else who.sees
        return await asyncio.to_thread(sites_view, web.settings, web.clock.now(), sees)


def yt_dlp_view(now: float) -> YtDlp:
    """yt-dlp's version and age as installed (blocking: reads its metadata)."""
    found = extractors(now)
    return YtDlp(
        version=found.version, age_days=found.age_days, stale=found.stale, update=found.update
    )


def sites_view(
    settings: Settings, now: float, sees: Callable[[int | None], bool] | None = None
) -> Sites:
    """The view of ``/api/v1/sites`` (blocking: reads the record); ``sees``: whose links
    count (None: everyone's)."""
    since = now - KEEP_SECONDS
    rows = [
        SiteRecord(
            site=t.extractor,
            total=t.total,
            fetched=t.total - sum(t.failed.values()),
            failed=dict(t.failed.most_common()),
            last_at=t.last_at,
            last_code=t.last_code,
        )
        for t in summary(settings.data_dir, since, sees)
    ]
    return Sites(yt_dlp=yt_dlp_view(now), since=since, sites=rows)
