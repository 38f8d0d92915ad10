"""Notices: a word when a job ends or waits on you, and when a watch finds or fails.

The store writes an event row to the outbox (``store/notices``) in the transaction of
the state change it tells of; the notifier (woken by the engine's bus, else every
second) makes each event into its notices, one row per target, and claims due rows
with a lease to deliver them. A target that does not
answer is tried again with a doubling wait and given up after ``notify.max_tries``
(with a log line); the job never waits for a notice, and a notice never fails a job.

Targets: the job's (or its watch's) own ``--notify`` (``none``: nothing), else, for a
person's (an account's, not an administrator's), that person's own ``notify`` setting
(none set: nothing; never the server's), else ``notify.urls`` unless ``notify.quiet``.
A ``ferryman://`` (``ferrymans://``) URL is a plain webhook: a JSON POST carrying the
job's view (``engine/ops/job_view``), signed with HMAC-SHA256 of the body under
``notify.webhook_secret`` in ``X-Ferryman-Signature``. Any other URL is Apprise's
(Telegram, Discord, ntfy, e-mail, ``json://``…), sent from a child process (Apprise
blocks, and a child can be killed). Both go through the egress guard
(``engine/notify_egress``): a URL from a job, a watch or a person never reaches this
machine or a private network under ``network.block_private``. Jobs that end within
``notify.digest_seconds`` of each other go to a URL as one digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ferryman.config import NotifySettings, Settings
from ferryman.engine.context import Context
from ferryman.engine.ops.job_view import job_view
from ferryman.engine.plumbing.events import Event, JobFinished, JobWaiting, WatchFailing, WatchFound
from ferryman.engine.plumbing.notice_targets import QUIET, WEBHOOK_SCHEMES, targets
from ferryman.engine.plumbing.wakeup import next_idle_wait
from ferryman.engine.plumbing.watch_words import jobs_text, shown_source
from ferryman.errors import FerrymanError, spec_for, with_job
from ferryman.net.rclone_path import shown_dest
from ferryman.store.notices.sql import (
    ASKS,
    JOB_ENDED,
    JOB_WAITING,
    WATCH_FAILING,
    WATCH_FOUND,
    Notice,
)
from ferryman.timeouts import within

if TYPE_CHECKING:
    from ferryman.net.egress import Egress

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ferryman-Signature"
EVENT_HEADER = "X-Ferryman-Event"
NOTICE_HEADER = "X-Ferryman-Notice"  # the notice's id (a digest's: theirs, comma-separated)
POLL_SECONDS = 1.0  # the sender's look at the outbox when nothing woke it (at first)
MAX_WAIT = 3600.0  # a retry's longest wait
KEEP_SENT = 7 * 86400.0  # seconds a sent notice stays in the outbox
FLUSH_SECONDS = 3.0  # a stop's last round of deliveries, at most


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the body's HMAC in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_wait(settings: NotifySettings, tries: int) -> float:
    """Seconds before try ``tries + 1``: doubling from ``retry_seconds``."""
    return float(min(settings.retry_seconds * 2 ** max(tries - 1, 0), MAX_WAIT))


class Notifier:
    """Makes the store's events into notices and delivers them (``run``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._broken: set[int] = set()  # events that could not be prepared in this run

    def on_event(self, event: Event) -> None:
        """A bus subscriber: an event a notice may tell of wakes the notifier (its row
        is in the store already, written with the change)."""
        if isinstance(event, JobFinished | WatchFound | WatchFailing) or (
            isinstance(event, JobWaiting) and event.reason.startswith(ASKS)
        ):
            self._wake.set()

    async def run(self) -> None:
        """Prepare and deliver what is due until the engine stops; then prepare what is
        left and try once what is due."""
        stopping = self.ctx.stopping
        try:  # the outbox is not a history: sent notices go after a week
            await self.ctx.notice_store.forget_sent_notices(self.ctx.clock.now() - KEEP_SENT)
        except Exception:
            log.warning("notices: could not forget old sent ones", exc_info=True)
        gap = POLL_SECONDS  # grows while rounds find nothing, as the stages' looks do
        while not stopping.is_set():
            self._wake.clear()
            found = False
            try:
                found = bool(await self.prepare_events())
                while not stopping.is_set() and await self.send_due():
                    found = True
            except Exception:
                log.exception("notices: delivering failed; trying again")
            woken = await self._nap(gap)
            gap = next_idle_wait(gap, POLL_SECONDS, busy=found or woken)
        try:  # a run that ends (--until-idle) does not keep its last jobs' ends back
            await self.prepare_events()
            await within(self._flush(), FLUSH_SECONDS, self.ctx.clock)
        except Exception:  # a timeout among them
            log.info("notices: some are left in the outbox for the next run")

    async def _flush(self) -> None:
        """At a stop: job ends waiting out the digest's window go now (still as one
        digest per URL), then whatever is due, once."""
        settings = await self.ctx.settings()
        await self.ctx.notice_store.notices_due_now(settings.notify.digest_seconds)
        sent: set[int] = set()
        while claimed := await self.send_due(skip=sent):
            sent.update(claimed)

    async def _nap(self, seconds: float) -> bool:
        """Wait ``seconds``, or less when an event wakes it; whether one did."""
        if self._wake.is_set():
            return True
        waits = [
            asyncio.ensure_future(self.ctx.stopping.wait()),
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self.ctx.clock.sleep(seconds)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return self._wake.is_set()

    async def prepare_events(self) -> int:
        """Make the store's event rows into notices; returns how many events were made.
        Those that make none (no target: the usual run) go together, in one write."""
        made = 0
        quiet: list[int] = []
        store = self.ctx.notice_store
        for event in await store.notice_events():
            if event.id in self._broken:
                continue
            try:
                kind, urls, payload = await self._made(event)
                if urls:
                    await self._store(event, kind, urls, payload)
                else:
                    quiet.append(event.id)
                made += 1
            except Exception:  # a notice must never stop the engine; the next run tries again
                self._broken.add(event.id)
                log.exception("notices: could not prepare event %d (%s)", event.id, event.kind)
        if quiet:
            await store.drop_events(quiet)
        return made

    async def prepare(self, event: Notice) -> list[int] | None:
        """One event row becomes its notices (one per target URL); their ids, None when
        another node prepared it first."""
        return await self._store(event, *await self._made(event))

    async def _made(self, event: Notice) -> tuple[str, list[str], dict[str, Any]]:
        """What an event row tells: its kind, its target URLs (none: nothing to send)
        and the notices' payload."""
        settings = await self.ctx.settings()
        drop: tuple[str, list[str], dict[str, Any]] = (event.kind, [], {})
        made = drop
        try:
            if event.kind in (JOB_ENDED, JOB_WAITING) and event.job_id is not None:
                made = await self._job_notice(event, settings) or drop
            elif event.kind in (WATCH_FOUND, WATCH_FAILING) and event.watch_id is not None:
                made = await self._watch_notice(event, settings) or drop
        except FerrymanError as exc:
            if not exc.code.endswith(".not_found"):
                raise
            made = drop  # removed since: nothing to tell of
        return made

    async def _store(
        self, event: Notice, kind: str, urls: list[str], payload: dict[str, Any]
    ) -> list[int] | None:
        """The event row replaced by its notices, in one transaction."""
        settings = await self.ctx.settings()
        store = self.ctx.notice_store
        facts = event.payload
        digest = kind in _DIGESTED  # held for the window from the end, not from now
        window = settings.notify.digest_seconds
        delay = max(0.0, facts.get("at", 0.0) + window - store.clock()) if digest else 0.0
        return await store.prepare_event(
            event.id, kind, urls, {**payload, "at": facts.get("at")}, digest=digest, delay=delay
        )

    async def _own(self, account: int | None, given: str | None) -> str | None:
        """A row's own targets (``given``), else its person's (``QUIET`` when they set
        none), else None: the server's, for an administrator's or no account's."""
        if given is not None or account is None:
            return given
        user = await self.ctx.notice_store.user(account)
        if user is None or user.admin:
            return None
        return str(user.settings.get("notify") or QUIET)

    async def _job_notice(
        self, event: Notice, settings: Settings
    ) -> tuple[str, list[str], dict[str, Any]] | None:
        store = self.ctx.notice_store
        assert event.job_id is not None
        job = await store.get_job(event.job_id)
        urls = targets(
            await self._own(job.account, await store.job_notify(job.id)), settings.notify
        )
        if not urls:
            return None
        view = {**job_view(job, self.ctx.sources), "dest_text": self.ctx.sinks.words(job.dest)}
        if event.kind == JOB_WAITING:
            kind, title, body = _waiting(view, str(event.payload.get("reason")))
        else:
            found = _finished(view, str(event.payload.get("status") or view["status"]))
            if found is None:
                return None  # cancelled: the person who cancelled it knows
            kind, title, body = found
        return kind, urls, {"event": kind, "title": title, "body": body, "job": view}

    async def _watch_notice(
        self, event: Notice, settings: Settings
    ) -> tuple[str, list[str], dict[str, Any]] | None:

        assert event.watch_id is not None
        watch = await self.ctx.notice_store.get_watch(event.watch_id)
        account = (await self.ctx.notice_store.watch_accounts()).get(watch.id)
        urls = targets(await self._own(account, watch.notify), settings.notify)
        if not urls:
            return None
        facts = event.payload
        source = shown_source(watch)
        shown = {
            "id": watch.id,
            "kind": watch.kind,
            "source": source,
            "dest": shown_dest(watch.dest),
        }
        if event.kind == WATCH_FOUND:
            jobs, titles = list(dict.fromkeys(facts["jobs"])), list(facts["titles"])
            n = len(titles)
            kind, title = "watch_found", f"ferryman: {n} new from {source}"
            lines = [f"- {t}" for t in titles[:10]]
            if n > 10:
                lines.append(f"… and {n - 10} more")
            found = f"{n} new entr{'y' if n == 1 else 'ies'} found: {jobs_text(jobs)}"
            body = "\n".join([f"{found} to {self.ctx.sinks.words(watch.dest)}", *lines])
            extra: dict[str, Any] = {"jobs": jobs, "titles": titles}
        else:
            kind, title = "watch_failing", f"ferryman: watch {watch.id} is failing"
            next_at = time.strftime("%H:%M", time.localtime(facts["next_at"]))
            body = (
                f"{source}: {facts['code']}: {facts['message']}. Next look at {next_at};"
                f" `ferryman watch list` shows it."
            )
            extra = {"error": {"code": facts["code"], "message": facts["message"]}}
        payload = {"event": kind, "title": title, "body": body, "watch": {**shown, **extra}}
        return kind, urls, payload

    async def send_due(self, skip: set[int] | None = None) -> list[int]:
        """Claim and deliver the next due notice (a digest with it); returns their ids,
        [] when none is due. ``skip``: tried in this round already (a failed one is due
        again at once when its wait is short: the stop's round tries each once)."""
        settings = await self.ctx.settings()
        notify = settings.notify
        store = self.ctx.notice_store
        owner = self.ctx.owner
        claimed = await store.claim_notices(owner, settings.lease_seconds, notify.digest_seconds)
        if not claimed:
            return []
        ids = [n.id for n in claimed]
        if skip is not None and set(ids) <= skip:
            await store.notices_failed(ids, owner, "", 0.0, give_up=False, count=False)
            return []
        try:
            await deliver(claimed, settings)
        except FerrymanError as exc:
            tries = max(n.attempts for n in claimed) + 1
            give_up = tries >= notify.max_tries or not spec_for(exc.code).retryable
            wait = retry_wait(notify, tries)
            if give_up:
                log.warning(
                    "notices %s to %s: given up after %d tries: %s",
                    ids,
                    _shown_url(claimed[0].url),
                    tries,
                    exc.message,
                )
            else:
                log.info(
                    "notices %s to %s: %s; again in %.0f s",
                    ids,
                    _shown_url(claimed[0].url),
                    exc.message,
                    wait,
                )
            await store.notices_failed(ids, owner, exc.message, wait, give_up=give_up)
            return ids
        await store.notices_sent(ids, owner)
        return ids


_DIGESTED = ("job_done", "job_problems", "job_failed")  # job ends: they may go as one


def _finished(view: dict[str, Any], status: str) -> tuple[str, str, str] | None:
    """A job's end as a notice, by the state it ended in (``status``: the view is read
    later, when the job may have been retried)."""
    counts = view["counts"]
    name, dest = view["name"], view.get("dest_text", view["dest"])
    if status == "done":
        problems = counts["failed"] + counts["quarantined"]
        delivered = f"{counts['delivered']} file{'s' * (counts['delivered'] != 1)} to {dest}"
        if problems:
            report = f"`ferryman report {view['id']}`"
            error, why = view["error"], f" {report} says why."
            if error:  # the job's code and next step (which may name the report itself)
                step = error["next"]
                why = f" {error['code']}: {step}" + ("" if report in step else why)
            return (
                "job_problems",
                f"ferryman: done with problems: {name}",
                f"{delivered}; {counts['failed']} failed, {counts['quarantined']} quarantined."
                + why,
            )
        return "job_done", f"ferryman: done: {name}", f"{delivered}."
    if status == "failed":
        error = view["error"] or {"code": "?", "message": "", "next": ""}
        return (
            "job_failed",
            f"ferryman: failed: {name}",
            f"{error['code']}: {error['message']}. {error['next']}".strip(),
        )
    return None


def _waiting(view: dict[str, Any], reason: str) -> tuple[str, str, str]:
    step = with_job(spec_for(reason).next_step, view["id"])
    return "job_waiting", f"ferryman: job {view['id']} waits: {view['name']}", f"{reason}: {step}"


def _shown_url(url: str) -> str:
    """A URL for a log line: its scheme and host, never its tokens."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…" if scheme in WEBHOOK_SCHEMES else f"{scheme}://…"


def digest_of(notices: Sequence[Notice]) -> dict[str, Any]:
    """Several job ends as one notice: a title, a line each, and each job's view."""
    payloads = [n.payload for n in notices]
    kinds = [p["event"] for p in payloads]
    counted = ", ".join(
        f"{kinds.count(k)} {k.removeprefix('job_').replace('problems', 'with problems')}"
        for k in ("job_done", "job_problems", "job_failed")
        if k in kinds
    )
    return {
        "event": "digest",
        "title": f"ferryman: {len(notices)} jobs ended ({counted})",
        "body": "\n".join(f"- {p['title'].removeprefix('ferryman: ')}" for p in payloads),
        "jobs": [p.get("job") for p in payloads],
        "notices": [n.id for n in notices],  # each job end's notice id, as the jobs' order
        "at": max(p.get("at", 0.0) for p in payloads),
    }


async def deliver(notices: Sequence[Notice], settings: Settings) -> None:
    """Send one notice (or a digest of several) to their one URL; FerrymanError
    ``notify.undelivered`` (retryable), ``notify.bad_url`` or ``notify.blocked`` (not)
    when it did not go. Every connection goes through the egress guard
    (``engine/notify_egress``)."""
    from ferryman.engine.notify_egress import egress_for, send_apprise  # lazy: start-up

    payload = notices[0].payload if len(notices) == 1 else digest_of(notices)
    url = notices[0].url
    scheme = url.partition("://")[0].lower()
    timeout = settings.notify.timeout_seconds
    egress = egress_for(url, settings)
    if scheme in WEBHOOK_SCHEMES:
        ids = ",".join(str(n.id) for n in notices)
        await _post(url, scheme, payload, settings.notify.webhook_secret, timeout, ids, egress)
    else:
        await send_apprise(url, payload["title"], payload["body"], timeout, egress)


async def _post(
    url: str,
    scheme: str,
    payload: dict[str, Any],
    secret: str,
    seconds: float,
    ids: str,
    egress: Egress,
) -> None:

    target = WEBHOOK_SCHEMES[scheme] + url[len(scheme) :]
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: str(payload["event"]),
        NOTICE_HEADER: ids,  # the same on every try: what a receiver dedupes by
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    # lazy: start-up (httpx and the egress guard, ~0.1 CPU-s of every engine's start,
    # are loaded by the first webhook; an engine with no notice to send never needs them)
    import httpx

    from ferryman.net.http import async_transport, tls

    transport = async_transport(egress)
    try:
        # tls(): made once; through a proxy (no transport of ours) httpx would otherwise
        # read the CA bundle again for every notice (~20 ms of CPU)
        async with httpx.AsyncClient(timeout=seconds, transport=transport, verify=tls()) as client:
            answer = await client.post(target, content=body, headers=headers)
    except FerrymanError as exc:  # the guard's link.blocked
        raise FerrymanError("notify.blocked", f"{_shown_url(url)}: {exc.message}") from exc
    except httpx.InvalidURL as exc:  # not an HTTPError: it would escape as a bug
        raise FerrymanError("notify.bad_url", f"{_shown_url(url)}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FerrymanError(
            "notify.undelivered", f"{_shown_url(url)}: {type(exc).__name__}: {exc}"
        ) from exc
    if answer.status_code >= 300:
        raise FerrymanError(
            "notify.undelivered", f"{_shown_url(url)} answered HTTP {answer.status_code}"
        )
