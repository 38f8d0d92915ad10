"""What each stage and each front door may ask of the store: one narrow protocol each.

The runtime object is the one ``Store`` (or ``store.memory.store.MemoryStore``), which
satisfies every port structurally; a stage's module names only its own port, so mypy
proves which part of the store it reaches (``tests/unit/test_store_ports.py`` checks
the modules name no wider one). Widening a port is a one-line change here, seen in review.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from ferryman.errors import FerrymanError
from ferryman.model import AlbumClaim, Item, ItemState, Job, SinkWrite
from ferryman.store.accounts.port import Accounts as Accounts  # named here too
from ferryman.store.accounts.sql import User
from ferryman.store.chat.sql import InboxRow, StatusRow
from ferryman.store.claimed import Claimed
from ferryman.store.fetches.calls import OutsideCalls
from ferryman.store.fetches.sql import Fetch, InputName
from ferryman.store.nodes.sql import NodeRun
from ferryman.store.notices.sql import Notice
from ferryman.store.shared.rows import Clock, Ended, NewItem, RecordedBatch
from ferryman.store.sinks.sql import KeptForSink
from ferryman.store.watches.records import WatchJob
from ferryman.store.watches.sql import Made, Watch


class Leaseholder(Protocol):
    """A step that holds a claim: it renews its lease and reads the store's clock."""

    clock: Clock

    async def renew(
        self, kind: Claimed, row_id: int, owner: str, lease_seconds: float
    ) -> bool | None:
        """Push the lease on the ``kind`` ``row_id`` forward: True; False: another holds
        it now (its lease ran out meanwhile); None: none does (a cancel let it go)."""
        ...


class FetchStore(Leaseholder, OutsideCalls, Protocol):
    """The fetch stage: a job's input downloaded first."""

    async def claim_fetch(
        self, owner: str, lease_seconds: float, schemes: tuple[str, ...] = ()
    ) -> Fetch | None: ...
    async def claim_fetches(
        self, owner: str, lease_seconds: float, limit: int, schemes: tuple[str, ...] = ()
    ) -> list[Fetch]: ...
    async def get_job(self, job_id: int) -> Job: ...
    async def user(self, user_id: int) -> User | None: ...  # whose cookies
    async def put_source_memo(self, job_id: int, key: str, value: str) -> None: ...
    async def name_from_input(
        self, job_id: int, base: str, variant: str = "", source_end: str = ""
    ) -> str | None: ...
    async def fetch_done(
        self,
        fetch_id: int,
        owner: str,
        path: str | None,
        size: int | None,
        hold: str | None = None,
        *,
        named: InputName | None = None,
        note: tuple[str, str] | None = None,
    ) -> bool: ...
    async def fetched(self, job_id: int) -> Fetch | None: ...
    async def fetch_failed(self, fetch_id: int, owner: str, error: FerrymanError) -> int: ...
    async def fetch_retry(
        self,
        fetch_id: int,
        owner: str,
        error: FerrymanError,
        delay: float,
        *,
        count: bool = True,
    ) -> None: ...


class ReadStore(Leaseholder, Protocol):
    """The read (unpack) stage: entries recorded with the cursor, albums sealed, waits."""

    async def claim_job(
        self, owner: str, lease_seconds: float, small: bool = False
    ) -> Job | None: ...
    async def claim_jobs(
        self, owner: str, lease_seconds: float, limit: int, small: bool = False
    ) -> list[Job]: ...
    async def give_way(self, job_id: int, owner: str) -> None: ...
    async def job_retry(
        self, job_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None: ...
    async def known_seqs(self, job_id: int) -> set[int]: ...
    async def fetched(self, job_id: int) -> Fetch | None: ...
    async def source_memos(self, job_id: int) -> dict[str, str]: ...
    async def put_source_memo(self, job_id: int, key: str, value: str) -> None: ...
    async def need_password(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError,
        album_size: int | None = None,
        *,
        wait: float = ...,
    ) -> list[int]: ...
    async def finish_expansion(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError | None = None,
        album_size: int | None = None,
        *,
        wait: float = ...,
    ) -> list[int]: ...
    async def backlog(self, job_id: int) -> tuple[int, int]: ...
    async def name_from_input(
        self, job_id: int, base: str, variant: str = "", source_end: str = ""
    ) -> str | None: ...
    async def record_entries(
        self,
        job_id: int,
        owner: str,
        cursor: int,
        new: Sequence[NewItem],
        album_size: int | None = None,
        *,
        last: bool = False,
        wait: float = ...,
    ) -> RecordedBatch: ...
    async def set_wait(
        self, job_id: int, owner: str, reason: str | None, blocked: bool
    ) -> None: ...
    async def albums_in_flight(self, job_id: int) -> bool: ...
    async def seal_albums(
        self, job_id: int, album_size: int, *, wait: float = ...
    ) -> list[int]: ...
    async def read_waits_behind(self, job_id: int) -> bool: ...
    async def fail_job(self, job_id: int, error: FerrymanError, owner: str) -> None: ...


class ConvertStore(Leaseholder, Protocol):
    """The convert stage: a deferred item transcoded, part by part, then sealed."""

    async def claim_conversion(self, owner: str, lease_seconds: float) -> Item | None: ...
    async def get_job(self, job_id: int) -> Job: ...
    async def item_final(
        self,
        item_id: int,
        state: ItemState,
        error: FerrymanError,
        *,
        owner: str | None = None,
        work_path: str | None = None,
    ) -> None: ...
    async def forget_parts(self, item_id: int, owner: str) -> None: ...
    async def item_ready(self, item_id: int, owner: str, fixed: NewItem, action: str) -> None: ...
    async def item_retry(
        self, item_id: int, owner: str, error: FerrymanError, delay: float
    ) -> None: ...
    async def part_history(self, item_id: int) -> dict[int, int]: ...
    async def part_done(self, item_id: int, owner: str, part: int) -> None: ...
    async def seal_albums(
        self, job_id: int, album_size: int, *, wait: float = ...
    ) -> list[int]: ...


class DeliverStore(Leaseholder, Protocol):
    """The deliver stage: a sealed album claimed, recorded delivered, retried or split."""

    async def claim_delivery(self, owner: str, lease_seconds: float) -> AlbumClaim | None: ...
    async def albums_no_one_delivers(self) -> list[tuple[Job, list[int]]]: ...
    async def album_count(self, job_id: int) -> int: ...
    async def album_delivered(
        self,
        album_id: int,
        owner: str,
        ref: str,
        *,
        ended: Mapping[int, Ended] | None = None,
        claim_next: float | None = None,
        hashes: Mapping[int, str] | None = None,
        then: Callable[[], None] | None = None,
        keep: SinkWrite | None = None,
    ) -> AlbumClaim | None: ...
    async def end_space_wait(self, job_id: int, code: str) -> bool: ...
    async def album_split(
        self,
        album_id: int,
        owner: str,
        error: FerrymanError,
        ended: Mapping[int, Ended] | None = None,
    ) -> list[int]: ...
    async def album_waits_for_space(
        self, album_id: int, owner: str, job_id: int, error: FerrymanError, delay: float
    ) -> bool: ...
    async def album_retry(
        self, album_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None: ...
    async def album_failed(self, album_id: int, owner: str, error: FerrymanError) -> None: ...
    async def album_hand_back(self, album_id: int, owner: str) -> None: ...


class WatchStore(Leaseholder, Protocol):
    """The watch stage: a due watch checked, its new entries recorded as jobs."""

    async def user(self, user_id: int) -> User | None: ...  # whose rclone.conf
    async def watch_accounts(self) -> dict[int, int | None]: ...
    async def claim_watch(
        self, owner: str, lease_seconds: float, watch_id: int | None = None
    ) -> Watch | None: ...
    async def list_watches(self) -> list[Watch]: ...
    async def watch_moved(self, watch_id: int, owner: str, next_at: float) -> None: ...
    async def watch_due(self, watch_id: int, at: float) -> bool: ...
    async def watch_delivered(self, watch_id: int, keys: Collection[str]) -> dict[str, int]: ...
    async def get_job(self, job_id: int) -> Job: ...
    async def watch_failed(
        self,
        watch_id: int,
        owner: str,
        error: FerrymanError,
        next_at: float,
        *,
        count: bool = True,
    ) -> None: ...
    async def watch_checked(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        next_at: float,
        *,
        message: str | None = None,
        primed: bool = True,
        in_notice: Sequence[tuple[int, str]] = (),
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made: ...
    async def watch_recorded(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        *,
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made: ...
    async def watch_seen_rows(self, watch_id: int) -> list[tuple[str, int | None]]: ...
    async def watch_seen_among(self, watch_id: int, keys: Collection[str]) -> set[str]: ...


class NoticeStore(Protocol):
    """The notifier (``engine/notify``): event rows made into notices, claimed, settled."""

    clock: Clock

    async def get_job(self, job_id: int) -> Job: ...
    async def get_watch(self, watch_id: int) -> Watch: ...
    async def job_notify(self, job_id: int) -> str | None: ...
    async def user(self, user_id: int) -> User | None: ...  # a person's own targets
    async def watch_accounts(self) -> dict[int, int | None]: ...
    async def notice_events(self, limit: int = 100) -> list[Notice]: ...
    async def drop_events(self, event_ids: Sequence[int]) -> int: ...
    async def prepare_event(
        self,
        event_id: int,
        kind: str,
        urls: Sequence[str],
        payload: dict[str, Any],
        *,
        digest: bool = False,
        delay: float = 0.0,
    ) -> list[int] | None: ...
    async def claim_notices(
        self, owner: str, lease_seconds: float, digest_seconds: float
    ) -> list[Notice]: ...
    async def notices_sent(self, ids: Sequence[int], owner: str) -> None: ...
    async def notices_failed(
        self,
        ids: Sequence[int],
        owner: str,
        message: str,
        delay: float,
        *,
        give_up: bool,
        count: bool = True,
    ) -> None: ...
    async def notices_due_now(self, within: float) -> int: ...
    async def forget_sent_notices(self, before: float) -> int: ...


class SinkStates(Protocol):
    """What resolving a destination asks (``engine/plumbing/destination``): its sink's own part."""

    def sink_state(self, sink: str) -> KeptForSink: ...


class Control(Protocol):
    """What a front door does to a job (``engine/control``); a retry's person's limits."""

    clock: Clock

    async def account_usage(self, account: int, since: float) -> dict[str, int]: ...
    async def get_job(self, job_id: int) -> Job: ...
    async def cancel(self, job_id: int) -> list[str]: ...
    async def set_paused(self, job_id: int, paused: bool) -> Job: ...
    async def retry(self, job_id: int) -> Job: ...
    async def add_password(self, job_id: int, password: str) -> Job: ...
    async def remove_job(self, job_id: int) -> Job: ...
    async def wake_engines(self) -> None: ...


class Intake(Protocol):
    """What adding a job asks (``engine/intake``): a free name, the one insert, a wake-up."""

    clock: Clock

    async def account_usage(self, account: int, since: float) -> dict[str, int]: ...
    async def unique_name(self, base: str, dest: str) -> str: ...
    async def add_job(
        self,
        *,
        source: str,
        name: str,
        dest: str,
        priority: int = 0,
        password: str | None = None,
        dedupe_key: str | None = None,
        error: FerrymanError | None = None,
        fetch: bool = False,
        notify: str | None = None,
        memos: dict[str, str] | None = None,
        account: int | None = None,
    ) -> Job: ...
    async def wake_engines(self) -> None: ...


class JobsView(Protocol):
    """What a front door reads of jobs (``engine/report``: status, a job's report)."""

    clock: Clock

    async def list_jobs(self) -> list[Job]: ...
    async def get_job(self, job_id: int) -> Job: ...
    async def job_items(self, job_id: int) -> list[Item]: ...
    async def item_counts(self) -> dict[int, dict[str, int]]: ...
    async def fetched(self, job_id: int) -> Fetch | None: ...
    async def fetching_jobs(self) -> set[int]: ...
    async def fetch_errors(self) -> dict[int, str]: ...
    async def queue_places(self) -> dict[int, dict[str, Any]]: ...
    async def source_memos(self, job_id: int) -> dict[str, str]: ...


class ShownBars(Protocol):
    """What the web keeps of each bar as the page showed it (``web/kept_progress``): a memo."""

    async def memos_named(self, key: str) -> dict[int, str]: ...
    async def put_source_memo(self, job_id: int, key: str, value: str) -> None: ...


class LiveJobs(JobsView, ShownBars, Protocol):
    """What the web's live views read (``web/live``): jobs, downloads' ends, bars shown."""

    async def downloaded_jobs(self) -> set[int]: ...


class RuntimeSettings(Protocol):
    """The settings changed at run time (``engine/ops/runtime_config``, ``config``)."""

    async def runtime_settings(self) -> dict[str, Any]: ...
    async def set_runtime_setting(self, key: str, value: Any) -> None: ...
    async def clear_runtime_setting(self, key: str) -> None: ...


class ChatSettings(Protocol):
    """A chat user's own settings (``frontdoors/telegram/user_settings``)."""

    async def user_settings(self, user_id: int) -> dict[str, str]: ...
    async def user_setting_put(self, user_id: int, key: str, value: str | None) -> None: ...


class ChatStatus(JobsView, Protocol):
    """A job's status message in the chat (``frontdoors/telegram/status``): report, tally, row."""

    async def album_tally(self, job_id: int) -> tuple[int, int]: ...
    async def status_rows(self) -> list[StatusRow]: ...
    async def status_put(self, row: StatusRow) -> None: ...


class Nodes(Protocol):
    """The nodes that ran against the store, and their drains (``engine/ops/nodes``)."""

    clock: Clock

    async def node_runs(self) -> list[NodeRun]: ...
    async def set_drain(self, node: str, on: bool) -> bool: ...


class WatchAdmin(WatchStore, Protocol):
    """What a front door does to watches (``engine/ops/watch_admin``): add, show, pause,
    remove, check one now as the watch stage does, and whose each is."""

    async def add_watch(self, **values: Any) -> Watch: ...
    async def get_watch(self, watch_id: int) -> Watch: ...
    async def set_watch_paused(self, watch_id: int, paused: bool) -> Watch: ...
    async def remove_watch(self, watch_id: int) -> None: ...
    async def wake_engines(self) -> None: ...
    async def watch_accounts(self) -> dict[int, int | None]: ...
    async def set_watch_account(self, watch_id: int, account: int | None) -> None: ...


class ChatInbox(Protocol):
    """The files received in the chat (``store/chat/sql``) and a chosen job's hold."""

    async def inbox_add(
        self,
        *,
        chat_id: int,
        message_id: int,
        sender_id: int,
        file_key: str,
        name: str,
        size: int,
        force: bool,
        job: dict[str, Any],
        memos: dict[str, str] | None = None,
    ) -> tuple[InboxRow, InboxRow | None, Job | None] | None: ...
    async def inbox_job(self, row_id: int, job: dict[str, Any]) -> Job: ...
    async def inbox_note(
        self, *, chat_id: int, message_id: int, sender_id: int, state: str, code: str | None
    ) -> None: ...
    async def inbox_rows(self, states: list[str] | None = None) -> list[InboxRow]: ...
    async def inbox_of_job(self, job_id: int) -> InboxRow | None: ...
    async def inbox_failed(self, row_id: int, code: str, *, let_go: bool = False) -> None: ...
    async def inbox_forget_path(self, row_id: int) -> None: ...
    async def hold_asked(self, job_id: int, hold: str, asked: bool) -> bool: ...
    async def hold_ended(self, job_id: int, hold: str, memos: dict[str, str]) -> None: ...


class ChatCleanup(Protocol):
    """``/cleanup`` (``frontdoors/telegram/cleanup``): ended jobs' downloads forgotten."""

    async def list_jobs(self) -> list[Job]: ...
    async def inbox_rows(self, states: list[str] | None = None) -> list[InboxRow]: ...
    async def inbox_forget_path(self, row_id: int) -> None: ...


class ChatAccounts(Protocol):
    """A chat user linked to a page's account (``/link CODE``): their jobs are its."""

    async def user(self, user_id: int) -> User | None: ...
    async def user_of_telegram(self, tg_user_id: int) -> User | None: ...
    async def take_link_code(self, hashed: str) -> int | None: ...
    async def update_user(self, user_id: int, **values: Any) -> None: ...


class ChatDoor(
    Control,
    Intake,
    ChatStatus,
    ChatSettings,
    ChatInbox,
    WatchAdmin,
    RuntimeSettings,
    ChatAccounts,
    Protocol,
):
    """All the chat door asks (``frontdoors/telegram``: its commands, buttons and
    inbox): what a person does to jobs and watches, the chat's own rows; never a
    stage's claims but a watch's checked now."""


class WebDoor(Control, Intake, LiveJobs, WatchAdmin, Nodes, Accounts, SinkStates, Protocol):
    """All the web app asks (``web/``): what a person does to jobs and watches, the live
    views, the health and ``/metrics`` figures; no stage's claims but a watch's now."""

    async def idle(self) -> bool: ...
    async def figures(self) -> dict[str, Any]: ...


class AddDoor(Intake, Nodes, Protocol):
    """``ferryman add`` on the full store: the jobs added, then which engines run."""


class RetryDoor(Control, Nodes, Protocol):
    """``ferryman retry`` on the full store: the job queued again, then which engines run."""


class LinksDoor(JobsView, SinkStates, Protocol):
    """``ferryman links JOB``: the job, and what its sink kept (a Telegram job's files)."""


class JobDoor(Control, JobsView, Protocol):
    """A command that reads jobs before it acts on them: ``remove --failed``, ``password``."""


class StatusDoor(JobsView, Nodes, Protocol):
    """``ferryman status`` on the full store: every job's line, and which engines run."""
