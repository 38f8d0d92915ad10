"""A connection that could not be made, on a device with no network at all, is a wait.

A phone in a tunnel or in airplane mode cannot resolve or reach any host: counted as
attempts, its links (a download, a WebDAV folder, a Torbox item) failed for good after
about 30 s. When a step fails because a connection could not be made and the device has
no route out (``Device.online``), the error becomes ``network.offline``: rechecked every
``network.recheck_seconds`` and never counted. With a network, it counts as before: a
host that does not exist or refuses is not waited for forever. A fault in that look (a
bug, a module missing from the install) is logged and the error stands: it counts, and
the job ends with its code instead of its step failing again and again.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from ferryman.engine.context import Context
from ferryman.errors import FerrymanError

log = logging.getLogger(__name__)


async def offline_or(ctx: Context, exc: FerrymanError) -> FerrymanError:
    """``network.offline`` for a connection failure with no network, else ``exc``."""
    if not (exc.retryable or exc.code == "source.host_unknown"):  # no DNS to ask, offline
        return exc
    if not could_not_connect(exc):
        return exc
    try:
        online = await asyncio.to_thread(ctx.device.online)
    except Exception:  # the device's look is not the job's fault: the error stands
        log.exception("could not tell whether this device has a network; %s stands", exc.code)
        return exc
    if online is False:
        return FerrymanError("network.offline", f"no network: {exc.message}")
    return exc


def could_not_connect(exc: BaseException) -> bool:
    """Whether a connection could not be made (no DNS answer, no route, refused)
    somewhere down ``exc``'s causes. httpx is looked up, not imported: a run that
    read only local files has not loaded it, and then no such error exists."""
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return False
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, httpx.ConnectError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
