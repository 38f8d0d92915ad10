"""The convert stage: deferred transcodes, in a child process that can be killed.

An item's original stays in the work area until its converted copy is delivered;
a conversion that keeps failing sends the original to quarantine with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from ferryman.engine import quarantine
from ferryman.engine.context import Context, Stopping
from ferryman.engine.retry import backoff_seconds, should_retry
from ferryman.engine.stage import sha256_file
from ferryman.errors import FerrymanError
from ferryman.media.child import run_in_child
from ferryman.media.plan import plan_for
from ferryman.media.probe import probe
from ferryman.media.transcode import transcode_to_mp4
from ferryman.model import Item, ItemState, MediaKind, Plan

log = logging.getLogger(__name__)


async def convert(ctx: Context, item: Item) -> None:
    settings = await ctx.settings()
    if not item.work_path:
        await ctx.store.item_final(
            item.id,
            ItemState.FAILED,
            FerrymanError("engine.internal", "nothing to convert"),
            owner=ctx.owner,
        )
        return
    src = Path(item.work_path)
    out = src.with_name(src.stem + ".converted.mp4")
    tmp = out.with_name(out.name + ".part.mp4")
    started = time.monotonic()
    last = -1.0

    def progress(fraction: float) -> None:
        nonlocal last
        if fraction - last >= 0.01 or fraction >= 1.0:
            last = fraction
            ctx.bus.emit("item.progress", item.job_id, item.id, stage="convert", fraction=fraction)

    try:
        cfg = settings.convert
        await _unless_stopping(
            ctx,
            transcode_to_mp4,
            {
                "src": src,
                "dst": tmp,
                "crf": cfg.crf,
                "preset": cfg.preset,
                "max_height": cfg.max_height,
                "audio_bitrate": cfg.audio_bitrate,
            },
            on_progress=progress,
            timeout=cfg.timeout_seconds,
        )
        info = await asyncio.to_thread(probe, tmp)
        if plan_for(MediaKind.VIDEO, info) is not Plan.AS_IS:
            raise FerrymanError("media.convert_failed", f"{src.name} is still not playable")
        await asyncio.to_thread(tmp.replace, out)
        size, digest = await asyncio.to_thread(sha256_file, out)
    except FerrymanError as exc:
        tmp.unlink(missing_ok=True)
        await _failed(ctx, item, src, exc)
        return
    except Exception as bug:  # counted, so a bug cannot retry the item forever
        tmp.unlink(missing_ok=True)
        log.exception("converting %s failed unexpectedly", item.source_path)
        await _failed(ctx, item, src, FerrymanError.internal(bug))
        return
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    await ctx.store.item_ready(
        item.id,
        ctx.owner,
        work_path=str(out),
        size=size,
        sha256=digest,
        media=info,
        action="transcode",
        original_path=str(src),
    )
    ctx.bus.emit(
        "item.converted", item.job_id, item.id, seconds=round(time.monotonic() - started, 2)
    )
    if await ctx.store.seal_albums(item.job_id, settings.album_size):
        ctx.wakeup.notify()


async def _unless_stopping(
    ctx: Context, target: Any, kwargs: dict[str, Any], **options: Any
) -> None:
    """Run the child; on a graceful stop kill it (never a store write) and raise Stopping."""
    child = asyncio.create_task(run_in_child(target, kwargs, **options))
    stop = asyncio.create_task(ctx.stopping.wait())
    try:
        await asyncio.wait({child, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not child.done():
        child.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await child
        raise Stopping
    child.result()


async def _failed(ctx: Context, item: Item, src: Path, exc: FerrymanError) -> None:
    settings = await ctx.settings()
    failures = item.attempts + 1
    if should_retry(exc, failures, settings.retry):
        delay = backoff_seconds(failures, settings.retry)
        log.warning("conversion of %s failed (%s); retry in %.1fs", item.source_path, exc, delay)
        await ctx.store.item_retry(item.id, ctx.owner, exc, delay)
        return
    job = await ctx.store.get_job(item.job_id)
    kept = await asyncio.to_thread(
        quarantine.keep,
        settings.quarantine_dir,
        job.id,
        job.name,
        src,
        Path(item.source_path).name,
        exc,
        move=True,
    )
    await ctx.store.item_final(
        item.id, ItemState.QUARANTINED, exc, owner=ctx.owner, work_path=str(kept)
    )
    ctx.bus.emit("item.quarantined", item.job_id, item.id, code=exc.code)
