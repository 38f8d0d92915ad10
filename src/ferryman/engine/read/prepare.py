"""Preparation: probe a staged file, pick its plan, and do the cheap fixes now.

Cheap fixes (remux, image fitting, thumbnails, splitting) are decided here, on the
reading thread; encodes (transcode, audio-only, animation) are deferred to the convert
stage. Every decode of the entry's bytes (probe, fit, remux, thumbnail) runs where
``options.decoder`` says (``engine/plumbing/decoding``: the engine's confined workers),
after an MP4's declared tables were checked against its bytes (``media.declared``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferryman.engine.plumbing import decoding
from ferryman.engine.plumbing.decoding import LIMITS
from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.engine.read.decision import Action, Decision, after_probe, before_probe, wanted
from ferryman.engine.read.entry_fault import entry_fault, internal
from ferryman.engine.read.stage import Staged
from ferryman.errors import FerrymanError
from ferryman.fsutil import make_durable, sha256_file
from ferryman.media.frames import Shape, over_budget
from ferryman.media.plan import over_limit, plan_for
from ferryman.media.policy import MIB, PhotoLimits
from ferryman.model import (
    ItemState,
    MediaInfo,
    MediaKind,
    Plan,
    held,
    parts_copied,
    piece_name,
    window_of,
)

__all__ = ["Prepared", "WaitToWrite", "entry_fault", "internal", "prepare", "wanted"]
log = logging.getLogger(__name__)
# Blocks the reading thread until the job's backlog has room for these files of these
# bytes together: the staged entry (not yet counted) and what is about to be made from
# it (``JobRead.wait_to_write``). None: the room was taken before staging (``read_run``).
WaitToWrite = Callable[[int, int], None]

# A picture not decoded for its size (pixels, or bytes once decoded): sent as it is.
_UNDECODED = ("media.too_many_pixels", "media.over_budget")
# Met before or while decoding, they end the entry: no other decoder is tried.
_ENDS_DECODING = (*_UNDECODED, *LIMITS, "media.declares_too_much")
_AS_DOCUMENT = ("media.over_limit", *_UNDECODED)
NO_DECODER = "media.no_decoder"  # a format nothing installed decodes (JPEG XL): skipped


@dataclass(slots=True)
class Prepared:
    """The item-to-be: its state, plan and files after any cheap fix."""

    kind: MediaKind
    state: ItemState
    plan: Plan | None
    work_path: Path | None
    size: int
    sha256: str
    media: MediaInfo | None = None
    original_path: Path | None = None
    reason: str | None = None
    error: FerrymanError | None = None
    actions: list[str] = field(default_factory=list)
    thumb_path: Path | None = None
    parts: list[Path] = field(default_factory=list)
    source_size: int | None = None
    seconds: float = 0.0

    def held(self) -> tuple[int, int]:
        """The files and bytes it holds in the work area until delivered, as the store's
        backlog counts them (``model.held``); none once it ended (skipped, quarantined)."""
        if self.state.terminal:
            return 0, 0
        return held(
            self.size,
            self.source_size,
            kept=self.original_path is not None,
            split=parts_copied(self.plan, self.parts),
            encoding=self.state is ItemState.CONVERT,
        )


def prepare(
    staged: Staged,
    send_documents: bool,
    options: MediaOptions,
    wait_to_write: WaitToWrite | None = None,
) -> Prepared:
    """Probe, plan and (for cheap plans) fix the staged file; never raises for bad media.
    ``wait_to_write``: asked before a file is made beside the staged one (a remux, a fitted photo,
    a split) or an encode is deferred, so the work area holds no more than the backlog's
    bound."""
    started = time.monotonic()
    try:
        prepared = _prepare(staged, send_documents, options, wait_to_write)
    except _WaitFailed as failed:
        raise failed.cause from None  # a stop, the store's error: not the entry's fault
    except FerrymanError as exc:
        if not exc.code.startswith("media.") or staged.path is None:
            raise
        prepared = _broken(_kept(staged), exc)  # a fixer's result unreadable, say
    except Exception as bug:
        if not entry_fault(bug):
            raise
        prepared = _bug(staged, bug)
    if prepared.state is ItemState.QUARANTINED and (options.keeps_undecoded or send_documents):
        prepared = _undecoded(staged, prepared, options)
    if not prepared.sha256 and prepared.work_path is not None and _not_read_whole(prepared):
        # Staged unhashed for a delivery's whole read that will not come: hashed now.
        _, prepared.sha256 = sha256_file(prepared.work_path)
    whole = str(prepared.work_path) if prepared.work_path else None
    made = [
        p
        for p in (prepared.work_path, prepared.thumb_path, *prepared.parts)
        if p and window_of(str(p), whole) is None  # a piece cut by bytes is no file
    ]
    if prepared.state is not ItemState.QUARANTINED:
        make_durable([p for p in made if p != staged.path])  # before the store names them
    prepared.source_size = staged.size
    prepared.seconds = round(time.monotonic() - started, 3)
    return prepared


def _bug(staged: Staged, bug: Exception) -> Prepared:
    """A staged file whose probe or fix raised unexpectedly: quarantined (kept, so a
    fixed ferryman's ``retry`` tries it again); the job goes on with the next entry."""
    assert staged.path is not None  # nothing unstaged reaches the probe
    return _broken(_kept(staged), internal(staged.path.name, bug))


def _undecoded(staged: Staged, prepared: Prepared, options: MediaOptions) -> Prepared:
    """A staged file held back as undecodable (truncated, damaged, a decoder's crash)
    goes as it is, a file, its code the reason: to a backup (``keeps_undecoded``), which
    decodes nothing and must lose no byte, or where files go (``send_documents``)."""
    error = prepared.error
    if (
        error is None
        or error.code == "media.over_limit"  # refused as a file already
        or prepared.work_path != staged.path
        or prepared.original_path is not None
        or prepared.parts
        or prepared.thumb_path is not None
    ):
        return prepared
    kept = _kept(staged)
    kept.media = prepared.media
    return _as_document(kept, options, _why(error), None)


def _kept(staged: Staged) -> Prepared:
    """The staged file as it is, for quarantine."""
    return _item(staged, staged.kind, ItemState.READY, None)


def _item(staged: Staged, kind: MediaKind, state: ItemState, plan: Plan | None) -> Prepared:
    """The staged file as an item of ``kind`` in ``state``, before any fix."""
    return Prepared(
        kind=kind,
        state=state,
        plan=plan,
        work_path=staged.path,
        size=staged.size,
        sha256=staged.sha256,
        source_size=staged.size,
    )


class _WaitFailed(Exception):
    """The wait for room inside an entry's preparation ended in ``cause`` (cancelled, a
    lost lease, the store's error): raised as it is, never taken for the entry's own."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.cause = cause


def _before_writing(
    base: Prepared,
    wait_to_write: WaitToWrite | None,
    *,
    kept: bool,
    split: bool,
    encoding: bool = False,
) -> None:
    """Before a file is made beside the staged one (or an encode deferred, whose copy the
    backlog counts from now on): wait for room for what the item will hold
    (``model.held``), a copy to be made taken as large as what it is made from."""
    if wait_to_write is None:
        return
    try:
        wait_to_write(*held(base.size, base.source_size, kept=kept, split=split, encoding=encoding))
    except BaseException as exc:
        raise _WaitFailed(exc) from exc


def _not_read_whole(prepared: Prepared) -> bool:
    """No delivery reads the item's file whole: a split video goes in parts (the upload
    hashes none of them as the item's), a quarantined file is never sent."""
    return bool(prepared.parts) or prepared.state is ItemState.QUARANTINED


def _prepare(
    staged: Staged, send_documents: bool, options: MediaOptions, wait_to_write: WaitToWrite | None
) -> Prepared:
    """The file's fate decided (``decision``: a pure table), then carried out here."""
    kind = staged.kind
    decided = before_probe(kind, staged.size, send_documents, options)
    if staged.path is None or decided.action is Action.SKIP:
        reason = "camera_raw" if staged.raw else "not_media"
        return replace(_item(staged, kind, ItemState.SKIPPED, None), work_path=None, reason=reason)
    path = staged.path
    base = _item(staged, kind, ItemState.READY, Plan.AS_IS)
    if decided.action is Action.DOCUMENT:
        return _as_document(base, options, decided.reason, wait_to_write)
    try:
        info = _probe(kind, path, options, staged.size)
        if kind is MediaKind.ANIMATION or (info.frames or 1) > 1:
            _check_canvas(path, options, staged.size)
            info = _counted(info, path, options, staged.size)
    except FerrymanError as exc:
        if exc.code in _UNDECODED:
            return _as_document(base, options, _why(exc), wait_to_write)
        if exc.code == NO_DECODER and (send_documents or options.keeps_undecoded):  # as it is
            return _as_document(base, options, _why(exc), wait_to_write)
        if exc.code == NO_DECODER:  # the true reason, not "unreadable" nor "not media"
            path.unlink(missing_ok=True)  # skipped as an unwanted entry is: not kept
            skipped = replace(base, state=ItemState.SKIPPED, plan=None, work_path=None)
            return replace(skipped, reason=_why(exc))
        return _broken(base, exc)
    base.media = info
    decided = after_probe(kind, info, base.size, options)
    if decided.plan is Plan.ANIMATION and (over := _over_budget(info, path)) is not None:
        return _broken(base, over)  # never converted: it would hold the slot for hours
    return _carry_out(decided, base, path, options, wait_to_write)


def _counted(info: MediaInfo, path: Path, options: MediaOptions, size: int) -> MediaInfo:
    """An animation's probe with its frames counted and its canvas (the largest a frame
    reaches) from its structure (``media.frames``): what converting it costs."""
    shape = decoding.animation_shape(options, path, size)
    if shape is None:
        return info
    width, height = max(info.width or 0, shape.width), max(info.height or 0, shape.height)
    return replace(info, frames=shape.frames, width=width, height=height)


def _over_budget(info: MediaInfo, path: Path) -> FerrymanError | None:
    """``media.animation_over_budget`` for an animation whose frames x canvas are over
    ``media.frames.MAX_ANIMATION_PIXELS``."""
    if not (info.frames and info.width and info.height):
        return None
    why = over_budget(Shape(info.frames, info.width, info.height), path.name)
    return None if why is None else FerrymanError("media.animation_over_budget", why)


def _carry_out(
    decided: Decision,
    base: Prepared,
    path: Path,
    options: MediaOptions,
    wait_to_write: WaitToWrite | None,
) -> Prepared:
    """Do what was decided to the probed file ``base``."""
    base.kind = decided.kind
    action = decided.action
    if action is Action.DOCUMENT:
        return _as_document(base, options, decided.reason, wait_to_write)
    base.plan, base.reason = decided.plan, decided.reason
    if action is Action.PAGES:
        return _fit_pages(base, path, options, wait_to_write)
    if action is Action.CONVERT:
        base.state = ItemState.CONVERT
        _before_writing(base, wait_to_write, kept=False, split=False, encoding=True)
        return base
    if action is Action.FIT_IMAGE:
        return _fit_image(base, path, options, wait_to_write)
    if action is Action.VIDEO:
        return _video(base, path, options, wait_to_write)
    if action is Action.SONG:
        return _song(base, path, options)
    return base


def _song(base: Prepared, path: Path, options: MediaOptions) -> Prepared:
    """A song goes as it is, with its embedded cover as its thumbnail when it has one."""
    cover = decoding.make_cover(
        options, path, path.with_name(path.stem + ".cover.jpg"), options.policy.thumb, base.size
    )
    if cover is not None:
        base.thumb_path = cover
        base.actions.append("cover")
    return base


def _probe(kind: MediaKind, path: Path, options: MediaOptions, size: int) -> MediaInfo:
    """No picture decoded over ``options.max_image_bytes`` (``media.budget``), no MP4
    decoded whose tables declare more than its ``size`` bytes hold (``media.declared``).

    Pictures and animations are read by Pillow first, as their fixers read them (FFmpeg
    gives up on a GIF without a palette, which Pillow decodes with a grey one); FFmpeg
    is the fallback for what Pillow cannot open.
    """
    if kind not in (MediaKind.PHOTO, MediaKind.ANIMATION):
        decoding.refuse_impossible(path, options)
        return decoding.probe(options, path, size)
    try:
        return decoding.probe_image(options, path, size, options.max_image_bytes)
    except FerrymanError as exc:
        if exc.code in (*_ENDS_DECODING, NO_DECODER):
            raise
        try:
            decoding.refuse_impossible(path, options)
            return decoding.probe(options, path, size)
        except FerrymanError as second:
            if second.code in _ENDS_DECODING:
                raise
            raise exc from None


def _check_canvas(path: Path, options: MediaOptions, size: int) -> None:
    """An animation is decoded whole, frame by frame, on its full canvas: refuse one
    whose canvas (any GIF frame may grow it) is over the pixel limit, or whose frames,
    composed as RGBA, are over the byte budget, before decoding."""
    try:
        decoding.check_pixels(options, path, size)
    except FerrymanError as exc:
        if exc.code in _ENDS_DECODING:
            raise
        # unreadable by Pillow but probed by FFmpeg: the encoder will tell


def _why(exc: FerrymanError) -> str:
    """An error as an item's reason: its code and what it says, without the work-area
    file name the message starts with (the report names the input already)."""
    detail = exc.message.split(": ", 1)[-1]
    return f"{exc.code}: {detail}"


def _as_document(
    base: Prepared, options: MediaOptions, why: str | None, wait_to_write: WaitToWrite | None
) -> Prepared:
    """Sent as a file, unchanged; unless even that is over the destination's limit: then
    cut by bytes into pieces where the destination joins them again (``cuts_files``):
    windows of the staged file, read in place (no copy: nothing to wait room for),
    else refused."""
    policy = options.policy
    base.plan, base.reason = Plan.DOCUMENT, why
    if over_limit(base.size, policy):
        limit = policy.max_file_bytes or 0
        if options.cuts_files and base.work_path is not None and limit > 0:
            base.parts = cut_bytes(base.work_path, base.size, limit)
            base.actions.append(f"pieces:{len(base.parts)}")
            return base
        error = FerrymanError(
            "media.over_limit",
            f"{base.size:,} bytes ({base.size / MIB:,.1f} MiB), over the destination's limit"
            f" of {limit:,} bytes ({limit / MIB:,.1f} MiB) as a file",
        )
        return _broken(base, error)
    return base


def cut_bytes(path: Path, size: int, limit: int) -> list[Path]:
    """The pieces of ``limit`` bytes (the last: the rest) of the ``size``-byte ``path``,
    in order, each named as the window of it that it is (``model.piece_name``: read in
    place by the upload, never written). The same file and limit give the same names
    on every run: a piece's identity, what its upload's resume record is keyed by."""
    return [
        Path(piece_name(str(path), number, offset, min(limit, size - offset)))
        for number, offset in enumerate(range(0, size, limit), start=1)
    ]


def _broken(base: Prepared, exc: FerrymanError) -> Prepared:
    base.state = ItemState.QUARANTINED
    base.plan = Plan.QUARANTINE
    base.error = exc
    base.reason = exc.code
    return base


def _fit_image(
    base: Prepared, path: Path, options: MediaOptions, wait_to_write: WaitToWrite | None
) -> Prepared:
    """Convert or fit a picture to the photo limits; a strip no scaling fixes is a file."""
    out = path.with_name(path.stem + ".photo.jpg")
    limits = _photo_limits(options)
    _before_writing(base, wait_to_write, kept=True, split=False)
    try:
        result = decoding.fit_photo(options, path, out, limits, base.size)
    except FerrymanError as exc:
        out.unlink(missing_ok=True)
        if exc.code in _AS_DOCUMENT:
            return _as_document(base, options, _why(exc), wait_to_write)
        return _broken(base, exc)
    size, digest = sha256_file(out)
    base.original_path, base.work_path = path, out
    base.size, base.sha256 = size, digest
    base.media = decoding.probe_image(options, out, size)
    base.actions.extend(result.actions)
    return base


def _photo_limits(options: MediaOptions) -> PhotoLimits:
    limits = options.policy.photo
    cap = options.policy.max_file_bytes
    if cap is not None and (limits.max_bytes is None or cap < limits.max_bytes):
        limits = replace(limits, max_bytes=cap)  # a smaller upload cap binds photos too
    return limits


def _fit_pages(
    base: Prepared, path: Path, options: MediaOptions, wait_to_write: WaitToWrite | None
) -> Prepared:
    """A scan's or a fax's TIFF: every page its own photo, the item's parts in order (a
    TIFF is no animation); when a page cannot be made a photo, the file as it is."""
    assert base.media is not None
    pages = base.media.pages or 1
    _before_writing(base, wait_to_write, kept=False, split=True)
    made: list[Path] = []
    try:
        for page in range(pages):
            made.append(path.with_name(f"{path.stem}.page{page + 1}.jpg"))
            limits = _photo_limits(options)
            result = decoding.fit_photo(options, path, made[-1], limits, base.size, page=page)
    except FerrymanError as exc:
        for out in made:
            out.unlink(missing_ok=True)
        if exc.code in _AS_DOCUMENT:
            return _as_document(base, options, _why(exc), wait_to_write)
        return _broken(base, exc)
    base.parts = made
    base.actions.extend([*result.actions, "pages"])
    return base


def _video(
    base: Prepared, path: Path, options: MediaOptions, wait_to_write: WaitToWrite | None
) -> Prepared:
    """A playable video (after a remux if it needs one): thumbnail, then split if too big.
    (Their modules, with PyAV, load in the decoder's process: ``decoding``.)"""
    policy = options.policy
    if base.plan is Plan.REMUX and not _remux(base, path, options, wait_to_write):
        return base  # deferred to a transcode
    assert base.work_path is not None
    if over_limit(base.size, policy) and policy.max_file_bytes is not None:  # to be split
        _before_writing(base, wait_to_write, kept=base.original_path is not None, split=True)
    try:
        finished = decoding.finish_video(options, base.work_path, base.size, policy)
    except FerrymanError as exc:  # too big to split: the original goes to quarantine
        if base.original_path is not None:
            base.work_path.unlink(missing_ok=True)
            base.work_path, base.original_path = base.original_path, None
        return _broken(base, exc)
    base.thumb_path = finished.thumb
    base.parts = finished.parts
    base.actions.extend(finished.actions)
    if finished.parts and base.plan is Plan.AS_IS:
        base.plan = Plan.SPLIT
    return base


def _remux(
    base: Prepared, path: Path, options: MediaOptions, wait_to_write: WaitToWrite | None
) -> bool:
    """A container change is cheap: do it now; if it fails, defer a transcode instead
    (unless a decoding limit ended it: the file ends there)."""
    out = path.with_name(path.stem + ".remux.mp4")
    tmp = out.with_name(out.name + ".part.mp4")
    _before_writing(base, wait_to_write, kept=True, split=False)
    try:
        decoding.remux_to_mp4(options, path, tmp, base.size)
        info = decoding.probe(options, tmp, base.size)
        if plan_for(MediaKind.VIDEO, info, options.policy) is not Plan.AS_IS:
            raise FerrymanError(
                "media.convert_failed", f"remux of {path.name} is still not playable"
            )
        tmp.replace(out)
    except FerrymanError as exc:
        tmp.unlink(missing_ok=True)
        if exc.code in _ENDS_DECODING:
            raise
        log.info("remux of %s failed (%s); it will be transcoded", path.name, exc.message)
        base.plan = Plan.TRANSCODE
        base.reason = f"{base.reason}; remux failed: {exc.message}"
        base.state = ItemState.CONVERT
        return False
    size, digest = sha256_file(out)
    base.original_path, base.work_path = path, out
    base.size, base.sha256 = size, digest
    base.media = info
    base.actions.append("remux")
    base.actions.extend(decoding.dropped_tracks(options, path, base.source_size))
    return True
