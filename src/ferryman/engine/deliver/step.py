"""One album's delivery, in the steps the deliver stage (``deliver/worker``) takes them:
sent to its sink, its refused files kept, recorded; then its files leave the work area."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ferryman.caption_template import NO_PHOTO_FIELDS, render_caption
from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.deliver.lookahead import LOOKAHEAD, Place
from ferryman.engine.deliver.photo_fields import photo_fields
from ferryman.engine.plumbing import quarantine
from ferryman.engine.plumbing.destination import Route, delivering_to, preload, resolve, warm
from ferryman.engine.plumbing.events import (
    WAIT_LOGGED,
    AlbumDelivered,
    AlbumFailed,
    AlbumSending,
    AlbumWaiting,
    ItemQuarantined,
    JobResumed,
    JobWaiting,
)
from ferryman.engine.plumbing.retry import backoff_seconds, should_retry
from ferryman.errors import FerrymanError, ServerWait
from ferryman.fsutil import remove_files, sha256_file
from ferryman.model import Album, AlbumClaim, ItemState, Job
from ferryman.net.progress import EMIT_EVERY_SECONDS, SpeedMeter
from ferryman.sinks.base import Delivered, Delivery, Sink
from ferryman.store.shared.rows import Ended

log = logging.getLogger(__name__)
SINK_FULL = "sink.space_low"  # the destination is full: a wait, never a failure
# An album of at most this many bytes leaves the work area in its record's hop on the
# store's thread (photos: a hop less); a bigger one's unlink runs apart, after the record.
REMOVE_IN_RECORD_MAX = 64 * 1024 * 1024


async def warm_sink(ctx: Context, dest: str) -> None:
    """The sink of ``dest`` may start what its first delivery needs (a login,
    connections) in the background: an engine's head start for the jobs it has left."""
    try:
        if ctx.sinks.kind(dest).personal:
            return  # whose it is is known by a job: its reading warms it
        route = await resolve(ctx, dest)
    except Exception:  # a destination no longer usable: its delivery says so
        return
    warm(route)  # the media tools are imported for the albums that need them (``deliver``)


async def sweep_half_built(ctx: Context) -> int:
    """At start-up: the ``.NNNN.partial`` folders a killed run left of albums no one
    delivers now go, whatever became of their jobs since (a retry would remove its own;
    a cancel or a failure meanwhile would not). Only sinks that build folders are
    asked (``builds_folders`` on their kind): nothing else is opened. How many went."""
    removed = 0
    for job, seqs in await ctx.deliver_store.albums_no_one_delivers():
        try:
            route = await resolve(ctx, job.dest, job.account)
            if not route.kind.builds_folders:
                continue
            removed += await asyncio.to_thread(route.sink().sweep_half_built, job, seqs)
        except (FerrymanError, OSError) as exc:  # a destination gone: nothing to sweep there
            log.info("half-built albums of job %s not looked for: %s", job.id, exc)
    return removed


def caption(settings: Settings, claim: AlbumClaim, template: str | None = None) -> str:
    """The album's caption. Until the job's number of albums is final it says the
    albums known so far, honestly open-ended: ``1/3+`` (one of at least three).
    ``template``: the job's own (``Route.caption_template``), else the settings'."""
    return render_caption(
        template or settings.caption_template,
        job_name=claim.job.name,
        album=claim.album.seq,
        albums=str(claim.albums) if claim.final else f"{claim.albums}+",
        items=len(claim.album.items),
        **{**NO_PHOTO_FIELDS, **photo_fields(claim.album.items)},
    )


async def captions_at_end(ctx: Context, job: Job) -> None:
    """A job ended: its number of albums is final. A sink that keeps captions where
    they can be rewritten (manifests: ``make_captions_final``) makes those its albums
    were given before it was known ("1/3+") final now, each once; others are left."""
    if not job.state.terminal:
        return
    albums = await ctx.deliver_store.album_count(job.id)
    if not albums:
        return  # nothing went out: no sink to open
    settings = await ctx.settings()
    try:
        route = await resolve(ctx, job.dest, job.account)
        sink = route.sink()
    except FerrymanError:
        return  # a destination no longer usable: its albums are where they went
    total = str(albums)
    template, name = route.caption_template(settings), job.name

    def render(seq: int, items: int, said: Mapping[str, str]) -> str:
        fields = {**NO_PHOTO_FIELDS, **{k: v for k, v in said.items() if k in NO_PHOTO_FIELDS}}
        return render_caption(
            template, job_name=name, album=seq, albums=total, items=items, **fields
        )

    await sink.make_captions_final(job, render)


@dataclasses.dataclass
class Sent:
    """What sending an album came to. ``done``: the sink's answer, None when the album
    failed (its failure recorded: a retry, a wait, a split). ``next_claim``: the album
    claimed ahead while it was sent, the worker's next whatever became of this one.
    ``goes_again``: a failed album that will go again before the rest of its job (a
    retry, a wait Telegram set, its split albums), so the albums claimed ahead of it go
    back in line; not one that failed for good or waits for room (a later, smaller
    album may fit meanwhile)."""

    done: Delivered | None
    hashed: dict[int, str]
    next_claim: AlbumClaim | None = None
    goes_again: bool = False


async def send(ctx: Context, claim: AlbumClaim, place: Place) -> Sent:
    """``_send``, and the albums it claimed ahead beside it (``Sent.next_claim``)."""
    feeding: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    try:
        sent = await _send(ctx, claim, place, feeding, stop)
    finally:
        stop.set()  # the feed ends between two claims
        await asyncio.gather(*feeding, return_exceptions=True)
        ahead = await place.claimed()  # the claim begun beside its send, if one was
    sent.next_claim = await place.claim() if feeding else ahead
    return sent


async def _send(
    ctx: Context,
    claim: AlbumClaim,
    place: Place,
    feeding: list[asyncio.Task[None]],
    stop: asyncio.Event,
) -> Sent:
    """Send one claimed album to its sink (exactly once: a repeat after a crash is the
    sink's to recognise); on failure record a retry later, a wait, or its end.

    ``place``: its place in the look-ahead (``lookahead``). At a sink that prepares,
    the next album is claimed once this one is prepared, beside its send
    (``Place.claim_soon``): in the same pass of the sink when it was not prepared
    ahead (the first album, or its preparation ahead failed), else at once."""
    album, job = claim.album, claim.job
    sink: Sink | None = None
    delivery: Delivery | None = None
    try:
        route, delivery = await _delivery_of(ctx, claim)
        sink = route.sink()
        hashed = _take_hashes(album, place.prepared or {})
        if not route.kind.hashes_as_it_reads and _unhashed(album):
            # a manifest may name them
            hashed.update(await asyncio.to_thread(_hash_unhashed, album, {}))
        if sink.prepares and sink.prepares_at_once > LOOKAHEAD:
            # A pool of accounts: the albums ahead are claimed beside this one's uploads
            # and sends, as they are sealed (they go through other accounts).
            feeding.append(asyncio.create_task(place.feed(stop)))
        elif sink.prepares and place.prepared is None:

            async def claimed() -> None:
                place.claim_soon()

            delivery = dataclasses.replace(delivery, on_prepared=claimed)
        elif sink.prepares:
            place.claim_soon()
        await preload(route, (item.kind for item in album.items))
        done = await sink.deliver(delivery)
        hashed.update(_take_hashes(album, done.hashes))
        # Before any file moves to quarantine: the ones the sink did not hash are read
        # where they are (a repeat after a crash, with media already uploaded).
        if _unhashed(album):
            hashed.update(await asyncio.to_thread(_hash_unhashed, album, done.hashes))
    except FerrymanError as exc:
        return Sent(None, {}, None, await _failed(ctx, album, exc))
    except OSError as exc:
        return Sent(None, {}, None, await _failed(ctx, album, sink_os_error(exc)))
    except Exception as bug:  # counted, so a bug cannot retry the album forever
        alone = f" ({album.items[0].source_path})" if len(album.items) == 1 else ""
        log.exception(
            "delivering album %s of job %s%s failed unexpectedly", album.seq, job.id, alone
        )
        error = FerrymanError.internal(bug)
        if await _end_alone(ctx, album, job, error, sink, delivery):
            return Sent(None, {}, None, goes_again=True)  # its split albums
        return Sent(None, {}, None, await _failed(ctx, album, error))
    return Sent(done, hashed)


async def keep_refused(ctx: Context, claim: AlbumClaim, done: Delivered) -> dict[int, Ended]:
    """The files the sink refused for good, moved to quarantine before the album is
    recorded (once it is, the job may end and its work folder go at any moment)."""
    return await _quarantine_refused(ctx, claim.job, claim.album, done.refused)


async def record(
    ctx: Context, claim: AlbumClaim, sent: Sent, ended: dict[int, Ended], *, chain: bool
) -> AlbumClaim | None:
    """Record a sent album delivered, its refused files' ends (``keep_refused``) with it,
    and tell it. ``chain``: the same transaction claims the next album, returned; nothing
    after that record raises, so the next album is never dropped (it would wait out its
    lease while later ones went first). Only once the store says the album is safe may
    its work files go: a small album's in the record's hop; a big one's after, on a
    thread beside the next steps (``Context.tidy_later``: unlinking a staged 1 GiB copy
    held a job's end, and this worker, 0.1-1.7 s). A file moved to quarantine is already
    gone from here; the rest of its item's files go too."""
    album, job = claim.album, claim.job
    assert sent.done is not None
    ref = sent.done.ref
    settings = await ctx.settings()
    small = sum(item.size for item in album.items) <= REMOVE_IN_RECORD_MAX
    after = await ctx.deliver_store.album_delivered(
        album.id,
        ctx.owner,
        ref,
        ended=ended,
        claim_next=settings.lease_seconds if chain else None,
        hashes=sent.hashed,
        then=functools.partial(_remove_work_files, album) if small else None,
        keep=sent.done.keep,  # the sink's records of its last request, in the same commit
    )
    for item_id, (state, error, _) in ended.items():
        if state is ItemState.QUARANTINED:
            ctx.bus.publish(ItemQuarantined(album.job_id, item_id, code=error.code))
    delivered = len(album.items) - len(ended)
    ctx.bus.publish(AlbumDelivered(album.job_id, album=album.seq, items=delivered, ref=ref))
    if job.wait_reason == SINK_FULL and await ctx.deliver_store.end_space_wait(job.id, SINK_FULL):
        ctx.bus.publish(JobResumed(job.id))
    if not small:  # a big file's unlink holds neither the store, the job's end, nor this worker
        ctx.tidy_later(functools.partial(_remove_work_files, album))
    return after


async def prepare(ctx: Context, claim: AlbumClaim) -> Mapping[int, str]:
    """Before its turn, the album made ready at a sink that prepares (Telegram: its
    files uploaded, nothing sent); the hashes taken meanwhile (item id → sha256). A
    sink without that step: nothing."""
    route, delivery = await _delivery_of(ctx, claim)  # its bytes go now: told now
    sink = route.sink()
    if not sink.prepares:
        return {}
    return await sink.prepare(delivery)


async def _delivery_of(ctx: Context, claim: AlbumClaim) -> tuple[Route, Delivery]:
    """The album's destination (``account.dest_forbidden`` if no longer the person's)
    and what its sink is handed: caption, the source as shown, and the progress it
    tells as its bytes go."""
    job = claim.job
    route = await delivering_to(ctx, job)  # a person's place checked again
    settings = await ctx.settings()
    shown = ctx.sources.describe(job.source)
    sending = _sending(ctx, job, claim.album.seq)
    told = caption(settings, claim, route.caption_template(settings))
    return route, Delivery(
        job,
        claim.album,
        told,
        shown,
        sending,
        caption_final=claim.final,
        caption_fields=photo_fields(claim.album.items),
        decoder=ctx.media_box,
    )


def _remove_work_files(album: Album) -> None:
    """Blocking, once the album's record is committed: its files leave the work area
    (one that cannot is logged: the album is safe; the job's folder goes when it ends)."""
    try:
        remove_files([p for item in album.items for p in item.work_files])
    except OSError as exc:
        log.warning("album %s of job %s: work files not removed: %s", album.seq, album.job_id, exc)


def _take_hashes(album: Album, found: Mapping[int, str]) -> dict[int, str]:
    """The hashes in ``found`` of the album's items staged unhashed, now theirs."""
    taken: dict[int, str] = {}
    for item in album.items:
        digest = found.get(item.id)
        if item.sha256 is None and digest is not None:
            item.sha256 = taken[item.id] = digest
    return taken


def _sending(ctx: Context, job: Job, seq: int) -> Callable[[int, int], None]:
    """What a sink tells as its album's bytes go (from the loop or its thread): the
    delivering phase's own speed and time left, on the bus a few times a second, named
    by the job's run."""
    loop = asyncio.get_running_loop()
    meter = SpeedMeter()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        meter.add(done, now)
        if done < total and now - last[0] < EMIT_EVERY_SECONDS:
            return
        last[0] = now
        speed = meter.speed()
        # An album sent is no "0 s left" for the job (it showed under 18 %): none.
        eta = None if done >= total or speed <= 0 else (total - done) / speed
        event = AlbumSending(
            job.id, run=job.run, album=seq, done=done, total=total, speed=speed, eta=eta
        )
        if threading.get_ident() == owner:
            ctx.bus.publish(event)
        else:  # a sink's thread (a copy): the bus is the loop's
            loop.call_soon_threadsafe(ctx.bus.publish, event)

    owner = threading.get_ident()
    return report


def _unhashed(album: Album) -> bool:
    """Whether an item of the album still needs its hash. Most were hashed as they were
    staged: then the two thread hops that would find nothing to do are not taken."""
    return any(item.sha256 is None and not item.parts and item.work_path for item in album.items)


def _hash_unhashed(album: Album, known: Mapping[int, str]) -> dict[int, str]:
    """Fill in the hash of every item staged unhashed (a person's big file, linked and
    not read: ``engine/read/stage.py``), from ``known`` or by reading its file (blocking);
    item id → hash, for the record of the album's delivery."""
    found: dict[int, str] = {}
    for item in album.items:
        if item.sha256 is not None or item.parts or not item.work_path:
            continue
        digest = known.get(item.id)
        if digest is None:
            try:
                _, digest = sha256_file(Path(item.work_path))
            except OSError as exc:
                raise FerrymanError("source.io", f"cannot read {item.work_path}: {exc}") from exc
        item.sha256 = found[item.id] = digest
    return found


async def _quarantine_refused(
    ctx: Context, job: Job, album: Album, refused: Mapping[int, FerrymanError]
) -> dict[int, Ended]:
    """Move the files the sink refused for good to quarantine: item id → its end.

    Safe to run again after a crash: the sink names the same items again and a file
    already moved is found where it went. A file that cannot be kept (the disk,
    permissions) fails alone; the album still counts.
    """
    if not refused:
        return {}
    settings = await ctx.settings()
    ended: dict[int, Ended] = {}
    for item in album.items:
        why = refused.get(item.id)
        if why is None or not item.files:
            continue
        # A split video is kept whole (its parts are cut from it), else the one file.
        src = Path(item.work_path) if item.parts and item.work_path else Path(item.files[0])
        try:
            path = await asyncio.to_thread(
                quarantine.keep_again,
                settings.quarantine_dir,
                job.id,
                job.name,
                src,
                item.source_path,
                why,
                f"{item.seq:06d}",
            )
        except OSError as exc:
            log.error("could not keep %s in quarantine: %s", item.source_path, exc)
            lost = FerrymanError("sink.io", f"{why.message}; not kept in quarantine: {exc}")
            ended[item.id] = (ItemState.FAILED, lost, None)
            continue
        ended[item.id] = (ItemState.QUARANTINED, why, str(path))
    return ended


async def _end_alone(
    ctx: Context,
    album: Album,
    job: Job,
    error: FerrymanError,
    sink: Sink | None,
    delivery: Delivery | None,
) -> bool:
    """One entry's fault stays that entry's: once a bug has spent the album's attempts,
    and only at a sink that vouches none of the album went out (``nothing_delivered``:
    else a split could send an item twice), the album is split into albums of one (new
    keys), so the innocent items go; an album of one is its faulty file, quarantined
    with ``entry.internal``. Whether it was handled so (else the album fails whole)."""
    settings = await ctx.settings()
    if should_retry(error, album.attempts + 1, settings.retry) or not album.items:
        return False
    if not await _nothing_delivered(sink, delivery):
        return False
    if len(album.items) > 1:
        made = await ctx.deliver_store.album_split(album.id, ctx.owner, error)
        log.error(
            "album %s of job %s failed for good (%s); its %d files go one by one",
            album.seq,
            job.id,
            error,
            len(made),
        )
        ctx.bus.publish(AlbumFailed(album.job_id, album=album.seq, code=error.code))
        return True
    item = album.items[0]
    fault = FerrymanError("entry.internal", f"{error.message} (while delivering it)")
    ended = await _quarantine_refused(ctx, job, album, {item.id: fault})
    ended.setdefault(item.id, (ItemState.FAILED, fault, None))  # no file left to keep
    await ctx.deliver_store.album_split(album.id, ctx.owner, error, ended)
    log.error("%s of job %s ends alone: %s", item.source_path, job.id, fault)
    if ended[item.id][0] is ItemState.QUARANTINED:
        ctx.bus.publish(ItemQuarantined(album.job_id, item.id, code=fault.code))
    ctx.bus.publish(AlbumFailed(album.job_id, album=album.seq, code=fault.code))
    try:  # what is left of it in the work area (its thumbnail, an original)
        await asyncio.to_thread(remove_files, item.work_files)
    except OSError as exc:
        log.warning("%s: work files not removed: %s", item.source_path, exc)
    return True


async def _nothing_delivered(sink: Sink | None, delivery: Delivery | None) -> bool:
    """Whether the sink vouches that none of the album reached its destination; a sink
    without the check (``Sink``'s default), or one whose check fails, does not."""
    if sink is None or delivery is None:
        return False
    try:
        return await sink.nothing_delivered(delivery)
    except Exception as exc:
        log.warning(
            "album %s of job %s: not split, unsure what went: %s",
            delivery.album.seq,
            delivery.job.id,
            exc,
        )
        return False


def sink_os_error(exc: OSError) -> FerrymanError:
    """An OSError a sink let through: a full disk (or quota) is a wait for room."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return FerrymanError(SINK_FULL, f"the destination is full: {exc}")
    return FerrymanError("sink.io", str(exc))


async def _failed(ctx: Context, album: Album, exc: FerrymanError) -> bool:
    """Record the failure: a wait for room, a wait the destination set, a retry or its
    end. Whether the album goes again before the rest of its job (``Sent.goes_again``)."""
    settings = await ctx.settings()
    if exc.code == SINK_FULL:
        # The destination is full: a wait like the work area's, rechecked, uncounted,
        # never a failure; the job says where and how much until an album goes out.
        delay = settings.space_recheck_seconds
        if await ctx.deliver_store.album_waits_for_space(
            album.id, ctx.owner, album.job_id, exc, delay
        ):
            job, said = album.job_id, {WAIT_LOGGED: album.job_id}  # see fetch.step._failed
            log.warning("album %s of job %s waits for space: %s", album.seq, job, exc, extra=said)
            ctx.bus.publish(JobWaiting(job, reason=SINK_FULL, message=exc.message, again_in=delay))
        ctx.bus.publish(AlbumWaiting(album.job_id, album=album.seq, seconds=delay))
        return False
    if isinstance(exc, ServerWait):
        # A wait the destination imposed is not a failure: honour it to the second, uncounted.
        log.warning("album %s of job %s waits %ss: %s", album.seq, album.job_id, exc.seconds, exc)
        await ctx.deliver_store.album_retry(
            album.id, ctx.owner, exc, float(exc.seconds), count=False
        )
        ctx.bus.publish(AlbumWaiting(album.job_id, album=album.seq, seconds=exc.seconds))
        return True
    failures = album.attempts + 1
    if should_retry(exc, failures, settings.retry):
        delay = backoff_seconds(failures, settings.retry)
        log.warning(
            "album %s of job %s failed (%s); retry in %.1fs", album.seq, album.job_id, exc, delay
        )
        await ctx.deliver_store.album_retry(album.id, ctx.owner, exc, delay)
        ctx.bus.publish(AlbumFailed(album.job_id, album=album.seq, code=exc.code))
        return True
    log.error("album %s of job %s failed for good: %s", album.seq, album.job_id, exc)
    await ctx.deliver_store.album_failed(album.id, ctx.owner, exc)
    ctx.bus.publish(AlbumFailed(album.job_id, album=album.seq, code=exc.code))
    return False
