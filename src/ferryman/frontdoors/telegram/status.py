"""One status message per job, edited as the job moves, never faster than the rule.

The rule: an edit needs ``status_every_seconds`` since the last one, and 5 percentage
points more than the last one showed (whichever comes later); a new phase (queued,
running, needs a password, paused, ended) needs only the time. A flood wait on an edit
stops all edits until it is over, so edits never earn another one. The last edit shown
is kept in the store, so the rule holds across restarts and a job that ended while
ferryman was down still gets its summary.

Engine events only mark a job as changed (subscribers must not block); one loop reads
the store and edits. A changed job is read only once its message may be edited again, so
a burst of events (a conversion's progress) costs one read per interval, not one each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ferryman.engine.ops import report
from ferryman.engine.ops.phases import Phases
from ferryman.engine.plumbing.events import Event, JobFetched, JobFetching, JobFinished, JobProgress
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram.chat import Chat
from ferryman.frontdoors.telegram.render import Shown, fetching_shown, job_shown
from ferryman.model import Job
from ferryman.store.chat.sql import StatusRow
from ferryman.store.ports import ChatStatus
from ferryman.telegram.errors import TelegramWait
from ferryman.timeouts import wait_set

log = logging.getLogger(__name__)

STEP = 5  # percentage points worth an edit


@dataclass(eq=False, slots=True)
class Board:
    """One status message: what it shows now and what it should show."""

    chat_id: int
    message_id: int
    shown: Shown
    edited_at: float
    job_id: int | None = None
    wanted: Shown | None = None


class StatusBoard:
    def __init__(
        self,
        store: ChatStatus,
        chat: Chat,
        every: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.chat = chat
        self.every = every
        self.clock = clock
        self._boards: list[Board] = []
        self._dirty: set[int] = set()
        self._fetching: dict[int, JobFetching] = {}  # a download's latest progress
        self._phases = Phases()  # each job's phase and its own figures, as the page has them
        self._wake = asyncio.Event()
        self.flood_until = 0.0

    # ------------------------------------------------------------- inputs

    async def load(self) -> None:
        """Status messages of jobs from earlier runs; each is checked once (an ended
        job whose summary was never shown gets it now)."""
        for row in await self.store.status_rows():
            shown = Shown(row.percent, "", row.text or "")
            board = Board(row.chat_id, row.message_id, shown, row.edited_at, row.job_id)
            self._boards.append(board)
            self._dirty.add(row.job_id)
        self._wake.set()

    def on_event(self, event: Event) -> None:
        """An engine event (synchronous, from the engine's own code: just mark and wake)."""
        if event.job_id is not None and any(b.job_id == event.job_id for b in self._boards):
            if self._phases.late(event):
                return  # a run cancelled before a retry, still reporting: not the job's
            self._phases.on_event(event)
            if isinstance(event, JobFetching):
                was = self._fetching.get(event.job_id)
                now = event
                if now.fraction is None and was is not None and was.run == now.run:
                    now = replace(now, fraction=was.fraction)  # tried again: not back to 0 %
                self._fetching[event.job_id] = now
            elif isinstance(event, JobFetched | JobFinished | JobProgress):
                self._fetching.pop(event.job_id, None)  # JobProgress: a .tgz's index done
            self._dirty.add(event.job_id)
            self._wake.set()

    async def open(self, chat_id: int, reply_to: int | None, first: Shown) -> Board:
        """Post a new status message (a reply to what it is about)."""
        message_id = await self.chat.send(chat_id, first.text, reply_to=reply_to)
        board = Board(chat_id, message_id, first, self.clock())
        self._boards.append(board)
        return board

    def want(self, board: Board, shown: Shown) -> None:
        """Ask for ``shown`` on ``board`` (it appears when the rule allows)."""
        board.wanted = shown
        self._wake.set()

    def touch(self, job_id: int) -> None:
        """Job ``job_id`` changed without an engine event (a button in the chat
        cancelled it): its message is read again when the rule allows."""
        self._dirty.add(job_id)
        self._wake.set()

    def of_job(self, job_id: int) -> Board | None:
        """The message that shows job ``job_id`` now (None: none does)."""
        return next((b for b in self._boards if b.job_id == job_id), None)

    def let_go(self, board: Board, last: Shown) -> None:
        """``board`` stops following its job and says ``last`` (final) when the rule
        allows; an edit on its way stays what it was."""
        board.job_id = None
        self.want(board, last)

    async def attach(self, board: Board, job_id: int) -> None:
        """The message now shows job ``job_id`` (a download became a job)."""
        board.job_id = job_id
        await self._remember(board)
        self._dirty.add(job_id)
        self._wake.set()

    # --------------------------------------------------------------- rule

    def earliest(self, board: Board) -> float:
        """The first moment ``board`` may be edited again."""
        return max(board.edited_at + self.every, self.flood_until)

    def due(self, board: Board, now: float) -> float | None:
        """When ``board`` may be edited to what it should show; None: not worth an edit."""
        wanted = board.wanted
        if wanted is None or wanted.text == board.shown.text:
            return None
        earliest = self.earliest(board)
        if wanted.final or wanted.phase != board.shown.phase:
            return earliest
        if wanted.percent >= board.shown.percent + STEP:
            return earliest
        return None

    # --------------------------------------------------------------- loop

    async def run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:  # the store hiccuped: status messages are not worth dying for
                log.exception("status messages: a round failed; trying again")
                await asyncio.sleep(self.every)

    async def _round(self) -> None:
        """Edit what is due, then sleep until the next edit is due or something changes."""
        self._wake.clear()
        next_due = await self._refresh_jobs(self.clock())
        now = self.clock()
        for board in list(self._boards):
            due = self.due(board, now)
            if due is not None and due <= now:
                await self._edit(board)
                due = self.due(board, self.clock())
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
            elif board.shown.final and board in self._boards:
                self._boards.remove(board)  # said its last word
        if self._wake.is_set():
            return
        timeout = None if next_due is None else max(0.0, next_due - self.clock())
        await wait_set(self._wake, timeout)

    async def _refresh_jobs(self, now: float) -> float | None:
        """Read the changed jobs whose message may be edited now; the others stay marked.

        Returns when the first of those may be edited (None: none waits).
        """
        later: dict[int, float] = {}
        ready: set[int] = set()
        for board in self._boards:
            if board.job_id in self._dirty:
                at = self.earliest(board)
                if at <= now:
                    ready.add(board.job_id)
                else:
                    later[board.job_id] = min(at, later.get(board.job_id, at))
        self._dirty = set(later) - ready  # a job without a message any more is dropped
        if ready:
            try:
                await self._compute(ready)
            except BaseException:
                self._dirty |= ready  # not lost: the next round asks again
                raise
        return min(later.values(), default=None)

    async def _compute(self, dirty: set[int]) -> None:
        per_job = await self.store.item_counts()
        for board in self._boards:
            if board.job_id in dirty:
                job_id = board.job_id
                try:
                    job = await self.store.get_job(job_id)
                except FerrymanError:
                    if board.job_id == job_id:
                        board.wanted = None
                    continue
                self._phases.run_is(job.id, job.run)  # a retry's new run: the last run's go
                progress = self._fetching.get(job.id)
                if progress is not None and self._phases.late(progress):
                    del self._fetching[job.id]  # the download of the run before a retry
                    progress = None
                figures = self._phases.get(board.job_id)
                albums = await self.store.album_tally(job.id)
                skipped = await self._skipped(job) if job.state.terminal else None
                wanted = job_shown(job, per_job.get(job.id, {}), figures, albums, skipped)
                if progress is not None and not wanted.final and not job.paused:
                    wanted = fetching_shown(job, progress, figures)
                if board.job_id != job.id:
                    continue  # let go while the job was read: its last word stands
                if wanted.final and _same_summary(wanted.text, board.shown.text):
                    board.shown = wanted  # shown before a restart: nothing left to say
                board.wanted = wanted

    async def _skipped(self, job: Job) -> dict[str, int]:
        """Why an ended job's files were skipped (reason: how many), for its summary."""
        data = await report.report(self.store, job.id)
        return dict(data.get("skipped") or {})

    async def _edit(self, board: Board) -> None:
        wanted = board.wanted
        assert wanted is not None
        try:
            await self.chat.edit(board.chat_id, board.message_id, wanted.text, job_id=board.job_id)
        except TelegramWait as wait:
            self.flood_until = self.clock() + wait.seconds
            log.info("status edits wait %s s (%s)", wait.seconds, wait.code)
            return
        except FerrymanError as exc:
            if exc.retryable:  # the connection: try again after the usual interval
                board.edited_at = self.clock()
                return
            log.warning("status message %s not editable: %s", board.message_id, exc)
            self._boards.remove(board)  # the message or the chat is gone: stop showing it
            return
        board.shown, board.edited_at = wanted, self.clock()
        if board.wanted is wanted:  # one asked while the edit was on its way stays wanted
            board.wanted = None
        await self._remember(board)
        if wanted.final:
            self._boards.remove(board)

    async def _remember(self, board: Board) -> None:
        if board.job_id is None:
            return
        row = StatusRow(
            board.job_id,
            board.chat_id,
            board.message_id,
            board.shown.percent,
            board.shown.text,
            board.edited_at,
        )
        await self.store.status_put(row)


def _same_summary(wanted: str, shown: str) -> bool:
    """Whether ``shown`` is already the summary ``wanted`` says: its first line is
    enough (a summary shown by an older ferryman lacks the lines under it; the message
    is not edited again for those)."""
    return wanted.split("\n", 1)[0] == shown.split("\n", 1)[0]
