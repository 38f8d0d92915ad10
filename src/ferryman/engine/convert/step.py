"""The convert stage: deferred encodes, each in a child process that can be killed.

A full transcode is resumable: its parts (audio once, then video segments) are recorded
in the store as each lands safely, so a crash costs at most the segment in progress.
An item's original stays in the work area until its converted copy is delivered; a
conversion that keeps failing sends the original to quarantine with the reason (to a
backup, a library or a remote, it goes as it came instead: ``_as_it_came``).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferryman.config import Settings
from ferryman.engine.context import Context, Stopping
from ferryman.engine.plumbing import quarantine
from ferryman.engine.plumbing.destination import resolve
from ferryman.engine.plumbing.events import ItemConverted, ItemProgress, ItemQuarantined
from ferryman.engine.plumbing.retry import backoff_seconds, should_retry
from ferryman.errors import FerrymanError
from ferryman.fsutil import make_durable, sha256_file
from ferryman.media.box.pool import DecodeLimits
from ferryman.media.child import ChildLimits, run_in_child
from ferryman.media.frames import deadline
from ferryman.media.plan import explain, scale_bitrate
from ferryman.media.policy import Policy
from ferryman.media.progress import Pace
from ferryman.model import Item, ItemState, MediaInfo, MediaKind, Plan
from ferryman.store.claimed import Claimed
from ferryman.store.shared.rows import LeaseLost, NewItem

if TYPE_CHECKING:
    from ferryman.media.finish import FinishedVideo
    from ferryman.media.segment_plan import EncodeSettings

log = logging.getLogger(__name__)
_PLANS = frozenset({Plan.TRANSCODE, Plan.AUDIO, Plan.ANIMATION})  # those with an encoder


async def convert(ctx: Context, item: Item) -> None:
    """Run the item's deferred encode, check the result, and make the item deliverable."""
    # PyAV (~0.1 s of start-up, ~20 MB), which a run that converts nothing never needs:
    from ferryman.media.segment_plan import PARTS_UNUSABLE  # lazy: PyAV

    settings = await ctx.settings()
    if not item.work_path or item.plan not in _PLANS:
        await ctx.convert_store.item_final(
            item.id,
            ItemState.FAILED,
            FerrymanError("engine.internal", f"nothing to convert (plan {item.plan})"),
            owner=ctx.owner,
        )
        return
    job = await ctx.convert_store.get_job(item.job_id)
    policy = (await resolve(ctx, job.dest)).policy
    src = Path(item.work_path)
    out = src.with_name(src.stem + ".converted.mp4")
    # Per attempt: a worker that lost its lease never writes the same temporary file.
    tmp = out.with_name(f"{out.name}.{uuid.uuid4().hex[:8]}.part.mp4")
    made: list[Path] = [tmp]
    started = time.monotonic()
    try:
        await _encode(ctx, item, job.run, src, tmp, settings, policy)
        # What the encoder made and its source are decoded in the box (``media.box.pool``).
        memory = int(settings.media.decode_memory)
        box = ctx.media_box
        limits = DecodeLimits.for_size(await asyncio.to_thread(_size, tmp), memory)
        info: MediaInfo = await box.run_async("ferryman.media.probe:probe", tmp, limits=limits)
        plan, why = explain(MediaKind.VIDEO, info, policy)
        if plan is not Plan.AS_IS:
            raise FerrymanError("media.convert_failed", f"{src.name} is still not playable: {why}")
        await asyncio.to_thread(tmp.replace, out)
        made = [out]
        size, digest = await asyncio.to_thread(sha256_file, out)
        finished: FinishedVideo = await box.run_async(
            "ferryman.media.finish:finish_video", out, size, policy, limits=limits
        )
        dropped: list[str] = (
            []
            if item.plan is Plan.ANIMATION
            else await box.run_async(
                "ferryman.media.tracks:dropped_tracks",
                src,
                limits=DecodeLimits.for_size(item.size, memory),
            )
        )
        made += [p for p in (finished.thumb, *finished.parts) if p]
        await asyncio.to_thread(make_durable, made)  # before the store names them
    except FerrymanError as exc:
        await asyncio.to_thread(_discard, made)
        if exc.code == PARTS_UNUSABLE:
            await ctx.convert_store.forget_parts(item.id, ctx.owner)
            await asyncio.to_thread(_remove_dirs, _all_parts_dirs(src))
        await _failed(ctx, item, src, exc)
        return
    except LeaseLost:
        await asyncio.to_thread(_discard, made)
        raise
    except Exception as bug:  # counted, so a bug cannot retry the item forever
        await asyncio.to_thread(_discard, made)
        log.exception("converting %s failed unexpectedly", item.source_path)
        await _failed(ctx, item, src, FerrymanError.internal(bug))
        return
    except BaseException:
        _discard(made)  # a stop or a cancel: quick unlinks, no await
        raise
    seconds = round(time.monotonic() - started, 3)
    await ctx.convert_store.item_ready(
        item.id,
        ctx.owner,
        NewItem(
            seq=item.seq,
            source_path=item.source_path,
            kind=item.kind,  # an animation stays one: a silent MP4 that loops
            state=ItemState.READY,
            size=size,
            sha256=digest,
            work_path=str(out),
            original_path=str(src),
            plan=item.plan,
            reason=item.reason,
            media=info.kept_from(item.media),  # a Takeout sidecar's facts kept
            thumb_path=str(finished.thumb) if finished.thumb else None,
            parts=tuple(str(p) for p in finished.parts),
            work_seconds=seconds,
            actions=(*dropped, *changed(item.media, info), *finished.actions),
        ),
        action=str(item.plan),
    )
    await asyncio.to_thread(_remove_dirs, _all_parts_dirs(src))
    ctx.bus.publish(ItemConverted(item.job_id, item.id, seconds=seconds))
    await _seal(ctx, item)


async def _seal(ctx: Context, item: Item) -> None:
    """Seal what the item's end lets go: its album waited for it (``rules.sealing``),
    converted or quarantined."""
    size, wait = await ctx.album_size(item.job_id), await ctx.album_wait()
    if await ctx.convert_store.seal_albums(item.job_id, size, wait=wait):
        ctx.wakeup.notify("deliver")


def _size(path: Path) -> int:
    return path.stat().st_size


def _parts_dir(src: Path, encode: EncodeSettings, segment_seconds: float) -> Path:
    """Where a resumable transcode keeps its parts: one folder per set of settings, so
    parts made before a settings change are never joined with new ones (no ``.part`` in
    the name either: the crash sweep removes such files)."""
    # The encoder's version too: an upgrade may change the SPS/PPS of new parts.
    import av  # lazy: PyAV (``convert`` loaded it already)

    key = hashlib.sha256(repr((encode, segment_seconds, av.__version__)).encode()).hexdigest()
    key = key[:10]
    return src.with_name(f"{src.name}.{key}.segments")


def _all_parts_dirs(src: Path) -> list[Path]:
    return list(src.parent.glob(f"{glob.escape(src.name)}.*.segments"))


def changed(before: MediaInfo | None, after: MediaInfo) -> list[str]:
    """What an encode changed besides its codec (the item's reason names that): a
    picture made smaller (``scaled:3840x2160->1920x1080``), fewer bits a sample
    (``bit_depth:10->8``), HDR tone-mapped to SDR BT.709 (``hdr:pq->sdr``): a report
    names every change to a file."""
    if before is None:
        return []
    found = []
    width, height, made_width, made_height = before.width, before.height, after.width, after.height
    if (
        width
        and height
        and made_width
        and made_height
        and width * height > made_width * made_height
    ):
        found.append(f"scaled:{width}x{height}->{made_width}x{made_height}")
    if before.bit_depth and after.bit_depth and after.bit_depth < before.bit_depth:
        found.append(f"bit_depth:{before.bit_depth}->{after.bit_depth}")
    if before.hdr and not after.hdr:
        found.append(f"hdr:{before.hdr}->sdr")
    return found


def _discard(paths: list[Path]) -> None:
    """Files of a failed attempt: nothing half-made stays in the work area."""
    for path in paths:
        path.unlink(missing_ok=True)


def _remove_dirs(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _bitrate_cap(item: Item, settings: Settings, policy: Policy) -> int | None:
    """With ``oversize = scale``: the video bitrate that keeps the output under the limit."""
    if settings.media.oversize != "scale":
        return None
    duration = item.media.duration if item.media else None
    return scale_bitrate(duration, policy.max_file_bytes, settings.convert.audio_bitrate)


async def _encode(
    ctx: Context, item: Item, run: int, src: Path, dst: Path, settings: Settings, policy: Policy
) -> None:
    """Run the plan's encoder in a child process; transcode parts are recorded as they land.
    Its progress names the job's ``run`` (a cancelled one's is told apart from a retry's)."""
    from ferryman.media.segment_plan import EncodeSettings  # lazy: PyAV (``convert``)

    cfg = settings.convert
    last = -1.0
    pace = Pace(item.media.duration if item.media else None)

    def progress(fraction: float) -> None:
        nonlocal last
        speed, eta = pace.at(fraction, time.monotonic())
        if fraction - last >= 0.01 or fraction >= 1.0:
            last = fraction
            ctx.bus.publish(
                ItemProgress(
                    item.job_id,
                    item.id,
                    run=run,
                    stage="convert",
                    fraction=fraction,
                    speed=speed,
                    eta=eta,
                )
            )

    assert item.plan is not None
    kwargs: dict[str, Any] = {"src": src, "dst": dst}
    recorded: list[asyncio.Task[None]] = []
    on_event = None
    if item.plan is Plan.TRANSCODE:
        encode = EncodeSettings(
            cfg.crf,
            cfg.preset,
            cfg.max_height,
            cfg.audio_bitrate,
            max_bitrate=_bitrate_cap(item, settings, policy),
            threads=cfg.threads,
            lookahead=cfg.lookahead,
        )
        kwargs.update(
            workdir=_parts_dir(src, encode, settings.media.segment_seconds),
            settings=encode,
            done=frozenset(await ctx.convert_store.part_history(item.id)),
            segment_seconds=settings.media.segment_seconds,
        )

        def on_event(name: str, value: Any) -> None:
            if name == "part":
                recorded.append(
                    asyncio.ensure_future(
                        ctx.convert_store.part_done(item.id, ctx.owner, int(value))
                    )
                )

    elif item.plan is Plan.AUDIO:
        kwargs["audio_bitrate"] = cfg.audio_bitrate
    else:
        kwargs.update(crf=cfg.crf, preset=cfg.preset, max_height=cfg.max_height)
    limit = _deadline(item, cfg.timeout_seconds)
    try:
        await _unless_stopping(
            ctx,
            _encoder(item.plan),
            kwargs,
            on_progress=progress,
            timeout=limit,
            on_event=on_event,
            limits=_encoder_limits(settings),
        )
    except FerrymanError as exc:
        if exc.code != "media.convert_timeout" or limit >= cfg.timeout_seconds:
            raise
        raise FerrymanError(
            "media.convert_deadline",
            f"{src.name}: still converting after its deadline of {limit:.0f} s; stopped",
        ) from exc
    finally:
        if recorded:  # parts that finished are worth keeping even when the rest failed
            results = await asyncio.gather(*recorded, return_exceptions=True)
            for failure in (r for r in results if isinstance(r, BaseException)):
                log.warning("a finished part of %s was not recorded: %s", src.name, failure)


def _deadline(item: Item, ceiling: float) -> float:
    """How long this file may hold the conversion slot (``media.frames.deadline``): it
    grows with its frames (an animation), its picture and its duration."""
    media = item.media
    if media is None:
        return ceiling
    # Counted whole at the read (``prepare._counted``); 2 at most from a bare probe.
    counted = item.plan is Plan.ANIMATION and (media.frames or 0) > 2
    return deadline(
        ceiling,
        width=media.width,
        height=media.height,
        frames=media.frames if counted else None,
        duration=media.duration,
        frame_rate=media.frame_rate,
    )


def _encoder_limits(settings: Settings) -> ChildLimits:
    """An encoder decodes the untrusted file too: twice a probe's memory (its frames in
    flight and x264's lookahead beside the decoder's), and as much CPU as its threads
    can use in its wall-clock time (``convert.timeout_seconds``, which ends it first)."""
    cpu = settings.convert.timeout_seconds * (os.cpu_count() or 1)
    return ChildLimits(2 * int(settings.media.decode_memory), cpu)


def _encoder(plan: Plan | None) -> Callable[..., None]:
    """The plan's encoder: a child's target, in the media modules (PyAV: see ``convert``)."""
    from ferryman.media.animation import animation_to_mp4  # lazy: PyAV
    from ferryman.media.audio import transcode_audio_only  # lazy: PyAV
    from ferryman.media.segmented import transcode_in_child  # lazy: PyAV

    encoders: dict[Plan | None, Callable[..., None]] = {
        Plan.TRANSCODE: transcode_in_child,
        Plan.AUDIO: transcode_audio_only,
        Plan.ANIMATION: animation_to_mp4,
    }
    return encoders[plan]


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
    if not await ctx.convert_store.renew(Claimed.ITEM, item.id, ctx.owner, settings.lease_seconds):
        raise LeaseLost(f"item {item.id}")  # another worker owns the files now: touch nothing
    if should_retry(exc, failures, settings.retry):
        delay = backoff_seconds(failures, settings.retry)
        log.warning("conversion of %s failed (%s); retry in %.1fs", item.source_path, exc, delay)
        await ctx.convert_store.item_retry(item.id, ctx.owner, exc, delay)
        return
    job = await ctx.convert_store.get_job(item.job_id)
    exc = quarantine.in_input_terms(exc, src, item.source_path)
    if (await resolve(ctx, job.dest)).options.keeps_undecoded:
        await _as_it_came(ctx, item, src, exc)
        return
    kept = await asyncio.to_thread(
        quarantine.keep_again,  # a crash after the move and before the record: found
        settings.quarantine_dir,
        job.id,
        job.name,
        src,
        item.source_path,
        exc,
        f"{item.seq:06d}",
    )
    await ctx.convert_store.item_final(
        item.id, ItemState.QUARANTINED, exc, owner=ctx.owner, work_path=str(kept)
    )
    await asyncio.to_thread(_remove_dirs, _all_parts_dirs(src))
    ctx.bus.publish(ItemQuarantined(item.job_id, item.id, code=exc.code))
    await _seal(ctx, item)  # its album goes on without it


async def _as_it_came(ctx: Context, item: Item, src: Path, exc: FerrymanError) -> None:
    """A backup (``SinkKind.backup``: a library, a remote) keeps what could not be
    converted as it came: its original, a file, the reason the code of why not. It was
    held back in quarantine before, and the backup lacked it (a watch's files stayed)."""
    size, digest = item.size, item.sha256
    if not digest:  # staged unhashed (a big entry, where a sink hashes as it reads)
        size, digest = await asyncio.to_thread(sha256_file, src)
    await ctx.convert_store.item_ready(
        item.id,
        ctx.owner,
        NewItem(
            seq=item.seq,
            source_path=item.source_path,
            kind=item.kind,
            state=ItemState.READY,
            size=size,
            sha256=digest,
            work_path=str(src),
            plan=Plan.DOCUMENT,
            reason=f"{exc.code}: {exc.message}",
            media=item.media,
        ),
        action="unconverted",
    )
    await asyncio.to_thread(_remove_dirs, _all_parts_dirs(src))
    await _seal(ctx, item)  # it is ready now: what waited for it goes
