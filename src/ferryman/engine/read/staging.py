"""Staging one entry, as one typed request: its bytes written to the work area
(``stage``), then prepared (``prepare``), in one hop on the reading thread; and the
upload that a sink may run while a big entry is written, or once a person's big file
is linked (early upload).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ferryman.archive.reader import EntryType, ReadAgain
from ferryman.engine.plumbing import decoding
from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.engine.read.prepare import Prepared, WaitToWrite, internal, prepare, wanted
from ferryman.engine.read.resume import resumed
from ferryman.engine.read.stage import (
    AHEAD_BYTES,
    EarlyUpload,
    MadeHere,
    PersonsFile,
    Provenance,
    Staged,
    StartEarlyUpload,
    Streamed,
    Sync,
    Target,
    stage_entry,
)
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.media.plan import over_limit
from ferryman.model import ItemState, MediaKind
from ferryman.net import abort
from ferryman.sources.base import SourceEntry


@dataclass(frozen=True, slots=True)
class StageRequest:
    """What staging one entry needs: where it goes, what is kept of it, how it is
    prepared. ``sync``: its fsync handed to the run's pool (``read_run``); ``early``:
    its upload while it is written, failed unless the staged file is the one sent;
    ``wait_to_write``: waits for room before a file is made from it (``prepare.WaitToWrite``)."""

    entry: SourceEntry
    path: str  # the entry's name in its input
    dest: Path
    keep: Callable[[MediaKind], bool]  # kinds written (others are skipped unwritten)
    send_all: bool  # files other than media are delivered too
    options: MediaOptions
    sync: Sync | None = None
    early: EarlyUpload | None = None
    wait_to_write: WaitToWrite | None = None

    @classmethod
    def of(
        cls,
        entry: SourceEntry,
        work: Path,
        *,
        send_documents: bool,
        options: MediaOptions,
        sync: Sync | None = None,
        early: EarlyUpload | None = None,
        wait_to_write: WaitToWrite | None = None,
    ) -> StageRequest:
        """The request for ``entry`` of a job whose work area is ``work``."""
        send_all = send_documents or entry.asked
        return cls(
            entry=entry,
            path=entry.info.path,
            dest=entry_dest(work, entry),
            keep=functools.partial(wanted, send_documents=send_all),
            send_all=send_all,
            options=options,
            sync=sync,
            early=early,
            wait_to_write=wait_to_write,
        )


Stager = Callable[[StageRequest], Prepared]


def entry_dest(work: Path, entry: SourceEntry) -> Path:
    """Where an entry is staged in the job's work area."""
    return work / f"{entry.info.index:06d}-{safe_name(Path(entry.info.path).name)}"


def stages_here(entry: SourceEntry) -> bool:
    """Whether the entry is a file to stage (else it is recorded as skipped or failed)."""
    return entry.error is None and entry.skip is None and entry.info.type is EntryType.FILE


def stage_and_prepare(request: StageRequest) -> Prepared:
    """On the reading thread: one hop for the entry's bytes and what is learned of them.
    Raises ``FerrymanError`` (an unexpected exception as ``entry.internal``) or
    ``OSError`` (the machine's: retried as any other)."""
    early = request.early
    try:
        try:
            try:
                staged = _stage(request, None)
            except ReadAgain as retry:  # the other backend reads it from its first byte
                if early is not None:
                    early.failed()  # what it read of the first writing is no good
                    early = None
                request = dataclasses.replace(request, early=None)
                staged = _stage(request, retry.again())
        except FerrymanError:
            raise
        except OSError:
            raise  # reading the source or writing the disk: the machine's, retried as before
        except Exception as bug:  # one entry's fault (a sniffer's, a decoder's bug) fails it
            raise internal(request.path, bug) from bug
        # never raises for one entry's fault
        prepared = prepare(staged, request.send_all, request.options, _wait_to_write(request))
    except BaseException:
        if early is not None:
            early.failed()
        raise
    finally:
        if request.entry.local_held is not None:
            request.entry.local_held.close()  # staged (a link or a copy) or failed: done
    if prepared.reason and staged.path is not None and staged.path.name in prepared.reason:
        # A decoder's words (a file kept as it is, undecoded) name the work area's file:
        # the entry's path inside the input instead, the name a person knows.
        work = staged.path
        said = prepared.reason.replace(str(work), request.path)
        prepared.reason = said.replace(work.name, request.path)
    facts = request.entry.facts
    if facts is not None and prepared.media is not None:
        prepared.media = prepared.media.told(facts)  # a Takeout's sidecar: its time, place
    if early is not None and not _sent_as_staged(prepared, staged):
        early.failed()
    elif early is not None and staged.unread and staged.path is not None:
        # Whole already: its upload starts now, while the entry is recorded and its
        # album sealed and claimed, not once the delivery gets to it.
        early.linked(staged.path)
    return prepared


def _wait_to_write(request: StageRequest) -> WaitToWrite | None:
    """The request's wait for room before a copy is made: the staged file will not be
    sent as it is, so its early upload stops first (not left running through the wait)."""
    wait, early = request.wait_to_write, request.early
    if wait is None or early is None:
        return wait

    def stop_then_wait(files: int, size: int) -> None:
        early.failed()
        wait(files, size)

    return stop_then_wait


def early_upload(
    start: StartEarlyUpload | None, entry: SourceEntry, dest: Path, options: MediaOptions
) -> EarlyUpload | None:
    """An upload while it is written, for an entry of ``AHEAD_BYTES`` or more of a size
    declared up front, bound for a sink that reads it whole as it delivers it. A
    person's own file (linked, not written) is uploaded once linked, from the same
    slots. Not one over the destination's size limit: its parts go, not it."""
    size = entry.info.size
    if (
        start is None
        or not options.hashed_on_delivery
        or (entry.local_file is not None and entry.local_seen is None)
        or size is None
        or size < AHEAD_BYTES
        or over_limit(size, options.policy)  # split or cut: the whole is never sent
    ):
        return None
    return start(dest, size)


def _sent_as_staged(prepared: Prepared, staged: Staged) -> bool:
    """The delivery will upload the staged file itself (not converted, split, dropped)."""
    return (
        prepared.state is ItemState.READY
        and prepared.work_path == staged.path
        and not prepared.parts
    )


def _stage(request: StageRequest, blocks: Iterator[bytes] | None) -> Staged:
    """The entry staged from ``blocks``, or (None) from its own: a big entry read over
    the network resumed where a killed run left it (``resume``)."""
    entry = request.entry
    resume = resumed(entry, request.dest, fresh=blocks is not None)
    if blocks is None:
        blocks = resume.blocks(entry) if resume is not None else entry.read_blocks()
    target = Target(
        request.dest,
        request.keep,
        sync=request.sync,
        hash_later=request.options.hashed_on_delivery,
        early=request.early,
        ask_ffmpeg=functools.partial(decoding.ffmpeg_kind, request.options),
        resume=resume,
    )
    try:
        staged = stage_entry(
            abort.checked(blocks),
            request.path,
            target,
            provenance(entry),
            size=entry.info.size,
            mtime=_taken_or_own(entry),
        )
    except BaseException as exc:
        if resume is not None:
            resume.failed(exc)
        raise
    if resume is not None:
        resume.end(staged.path, staged.size)
    return staged


def provenance(entry: SourceEntry) -> Provenance:
    """Where the entry's bytes come from, as its staging needs to know: streamed (an
    archive's entry, a download), a person's own file listed here, or a file the job
    made (its maker's hash known, or not listed as a person's file)."""
    if entry.local_file is None:
        return Streamed(over_network=entry.over_network)
    seen = entry.local_seen
    listed = PersonsFile(entry.local_file, seen, entry.local_held) if seen else None
    if entry.local_sha256 is not None or listed is None:
        return MadeHere(entry.local_file, entry.local_sha256, listed)
    return listed


def _taken_or_own(entry: SourceEntry) -> float | None:
    """A written copy's time: when it was taken where its source says so (a Google
    Takeout sidecar's), so a destination that keeps the file's time (an rclone remote)
    dates it as a library does; else the entry's own."""
    facts = entry.facts
    return facts.taken if facts is not None and facts.taken is not None else entry.info.mtime
