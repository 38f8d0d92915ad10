"""Notices: a word when a job ends or waits on you, and when a watch finds or fails.

The notifier hears the engine's bus and writes each notice to the store's outbox
(``store/notices``) right after the state change it tells of, one row per target; a
second loop claims due rows with a lease and delivers them. A target that does not
answer is tried again with a doubling wait and given up after ``notify.max_tries``
(with a log line); the job never waits for a notice, and a notice never fails a job.

Targets: the job's (or its watch's) own ``--notify`` (``none``: nothing), else
``notify.urls`` unless ``notify.quiet``. A ``ferryman://`` (``ferrymans://``) URL is a
plain webhook: a JSON POST carrying the job's view (``engine/job_view``), signed with
HMAC-SHA256 of the body under ``notify.webhook_secret`` in ``X-Ferryman-Signature``.
Any other URL is Apprise's (Telegram, Discord, ntfy, e-mail, ``json://``…), sent on a
thread: Apprise blocks. Jobs that end within ``notify.digest_seconds`` of each other go
to a URL as one digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from ferryman.config import NotifySettings, Settings
from ferryman.engine.context import Context
from ferryman.engine.events import Event, JobFinished, JobWaiting, WatchFailing, WatchFound
from ferryman.engine.job_view import job_view
from ferryman.errors import FerrymanError, spec_for, with_job
from ferryman.store.notices import Notice

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ferryman-Signature"
EVENT_HEADER = "X-Ferryman-Event"
WEBHOOK_SCHEMES = {"ferryman": "http", "ferrymans": "https"}
QUIET = "none"
POLL_SECONDS = 1.0  # the sender's look at the outbox when nothing woke it
MAX_WAIT = 3600.0  # a retry's longest wait
KEEP_SENT = 7 * 86400.0  # seconds a sent notice stays in the outbox
FLUSH_SECONDS = 3.0  # a stop's last round of deliveries, at most
# Waits that need the person: a password, room on the disk.
_ASKS = ("archive.password_required", "archive.password_wrong", "space.")


def targets(override: str | None, settings: NotifySettings) -> list[str]:
    """Where a notice goes: the job's or watch's own URLs (``none``: nowhere), else the
    settings' (none when quiet)."""
    if override is not None:
        words = [w for w in re.split(r"[\s,]+", override.strip()) if w]
        return [] if words == [QUIET] or not words else words
    return [] if settings.quiet else list(settings.urls)


def check_target(text: str) -> str:
    """A ``--notify`` value, refused early when it names no URL (``none`` is fine)."""
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if words == [QUIET]:
        return QUIET
    bad = [w for w in words if "://" not in w]
    if not words or bad:
        raise FerrymanError(
            "notify.bad_url",
            f"--notify '{text}': give Apprise URLs (tgram://…, ntfy://…, json://host/),"
            " ferryman(s)://host/path for a signed webhook, or none",
        )
    return " ".join(words)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the body's HMAC in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_wait(settings: NotifySettings, tries: int) -> float:
    """Seconds before try ``tries + 1``: doubling from ``retry_seconds``."""
    return float(min(settings.retry_seconds * 2 ** max(tries - 1, 0), MAX_WAIT))


class Notifier:
    """Hears the bus, keeps notices in the outbox, delivers them (``run``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._heard: asyncio.Queue[Event] = asyncio.Queue()
        self._wake = asyncio.Event()

    def on_event(self, event: Event) -> None:
        """A bus subscriber: quick, never blocks; the writing is ``run``'s."""
        if isinstance(event, JobFinished | WatchFound | WatchFailing) or (
            isinstance(event, JobWaiting) and event.reason.startswith(_ASKS)
        ):
            self._heard.put_nowait(event)
            self._wake.set()

    async def run(self) -> None:
        """Record what was heard and deliver what is due until the engine stops; then
        record what is left (so nothing heard is lost) and try once what is due."""
        stopping = self.ctx.stopping
        try:  # the outbox is not a history: sent notices go after a week
            await self.ctx.store.forget_sent_notices(time.time() - KEEP_SENT)
        except Exception:
            log.warning("notices: could not forget old sent ones", exc_info=True)
        while not stopping.is_set():
            await self._record_heard()
            try:
                while not stopping.is_set() and await self.send_due():
                    pass
            except Exception:
                log.exception("notices: delivering failed; trying again")
            await self._nap()
        await self._record_heard()
        try:  # a run that ends (--until-idle) does not keep its last jobs' ends back
            await asyncio.wait_for(self._flush(), FLUSH_SECONDS)
        except Exception:  # a timeout among them
            log.info("notices: some are left in the outbox for the next run")

    async def _flush(self) -> None:
        """At a stop: job ends waiting out the digest's window go now (still as one
        digest per URL), then whatever is due, once."""
        settings = await self.ctx.settings()
        await self.ctx.store.notices_due_now(settings.notify.digest_seconds)
        sent: set[int] = set()
        while claimed := await self.send_due(skip=sent):
            sent.update(claimed)

    async def _nap(self) -> None:
        if not self._heard.empty():
            return
        self._wake.clear()
        waits = [
            asyncio.ensure_future(self.ctx.stopping.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _record_heard(self) -> None:
        while not self._heard.empty():
            event = self._heard.get_nowait()
            try:
                await self.record(event)
            except Exception:  # a notice must never stop the engine
                log.exception("notices: could not record %s", event.kind)

    async def record(self, event: Event) -> list[int]:
        """Write the event's notices to the outbox; returns their ids."""
        settings = await self.ctx.settings()
        store = self.ctx.store
        if isinstance(event, JobFinished | JobWaiting):
            job = await store.get_job(event.job_id)
            urls = targets(await store.job_notify(job.id), settings.notify)
            if not urls:
                return []
            view = job_view(job, self.ctx.sources)
            if isinstance(event, JobWaiting):
                kind, title, body = _waiting(view, event.reason)
                digest, delay = False, 0.0
            else:
                found = _finished(view)
                if found is None:
                    return []  # cancelled: the person who cancelled it knows
                kind, title, body = found
                digest, delay = True, settings.notify.digest_seconds
            payload = {"event": kind, "title": title, "body": body, "job": view, "at": event.at}
            return await store.add_notices(
                kind, urls, payload, job_id=job.id, digest=digest, delay=delay
            )
        if isinstance(event, WatchFound | WatchFailing):
            watch = await store.get_watch(event.watch_id)
            urls = targets(watch.notify, settings.notify)
            if not urls:
                return []
            shown = {"id": watch.id, "kind": watch.kind, "source": event.source, "dest": watch.dest}
            if isinstance(event, WatchFound):
                n = len(event.jobs)
                kind, title = "watch_found", f"ferryman: {n} new from {event.source}"
                lines = [f"- {t}" for t in event.titles[:10]]
                if n > 10:
                    lines.append(f"… and {n - 10} more")
                body = "\n".join([f"{n} new job{'s' * (n != 1)} to {watch.dest}:", *lines])
                extra: dict[str, Any] = {"jobs": list(event.jobs), "titles": list(event.titles)}
            else:
                kind, title = "watch_failing", f"ferryman: watch {watch.id} is failing"
                next_at = time.strftime("%H:%M", time.localtime(event.next_at))
                body = (
                    f"{event.source}: {event.code}: {event.message}. Next look at {next_at};"
                    f" `ferryman watch list` shows it."
                )
                extra = {"error": {"code": event.code, "message": event.message}}
            payload = {
                "event": kind,
                "title": title,
                "body": body,
                "watch": {**shown, **extra},
                "at": event.at,
            }
            return await store.add_notices(kind, urls, payload, watch_id=watch.id)
        return []

    async def send_due(self, skip: set[int] | None = None) -> list[int]:
        """Claim and deliver the next due notice (a digest with it); returns their ids,
        [] when none is due. ``skip``: tried in this round already (a failed one is due
        again at once when its wait is short: the stop's round tries each once)."""
        settings = await self.ctx.settings()
        notify = settings.notify
        store = self.ctx.store
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


def _finished(view: dict[str, Any]) -> tuple[str, str, str] | None:
    counts = view["counts"]
    name, dest = view["name"], view["dest"]
    if view["status"] == "done":
        problems = counts["failed"] + counts["quarantined"]
        delivered = f"{counts['delivered']} file{'s' * (counts['delivered'] != 1)} to {dest}"
        if problems:
            return (
                "job_problems",
                f"ferryman: done with problems: {name}",
                f"{delivered}; {counts['failed']} failed, {counts['quarantined']} quarantined."
                f" `ferryman report {view['id']}` says why.",
            )
        return "job_done", f"ferryman: done: {name}", f"{delivered}."
    if view["status"] == "failed":
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
        "at": max(p.get("at", 0.0) for p in payloads),
    }


async def deliver(notices: Sequence[Notice], settings: Settings) -> None:
    """Send one notice (or a digest of several) to their one URL; FerrymanError
    ``notify.undelivered`` (retryable) or ``notify.bad_url`` (not) when it did not go."""
    payload = notices[0].payload if len(notices) == 1 else digest_of(notices)
    url = notices[0].url
    scheme = url.partition("://")[0].lower()
    timeout = settings.notify.timeout_seconds
    if scheme in WEBHOOK_SCHEMES:
        await _post(url, scheme, payload, settings.notify.webhook_secret, timeout)
    else:
        await _apprise(url, payload["title"], payload["body"], timeout)


async def _post(
    url: str, scheme: str, payload: dict[str, Any], secret: str, seconds: float
) -> None:
    import httpx

    target = WEBHOOK_SCHEMES[scheme] + url[len(scheme) :]
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", EVENT_HEADER: str(payload["event"])}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        async with httpx.AsyncClient(timeout=seconds) as client:
            answer = await client.post(target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise FerrymanError(
            "notify.undelivered", f"{_shown_url(url)}: {type(exc).__name__}: {exc}"
        ) from exc
    if answer.status_code >= 300:
        raise FerrymanError(
            "notify.undelivered", f"{_shown_url(url)} answered HTTP {answer.status_code}"
        )


async def _apprise(url: str, title: str, body: str, seconds: float) -> None:
    def send() -> str | None:
        import apprise

        sender = apprise.Apprise()
        if not sender.add(url):
            return "bad_url"
        return None if sender.notify(title=title, body=body) else "undelivered"

    try:
        outcome = await asyncio.wait_for(asyncio.to_thread(send), seconds)
    except TimeoutError as exc:
        raise FerrymanError(
            "notify.undelivered", f"{_shown_url(url)}: no answer in {seconds:g} s"
        ) from exc
    if outcome == "bad_url":
        raise FerrymanError(
            "notify.bad_url", f"{_shown_url(url)}: Apprise does not understand this URL"
        )
    if outcome == "undelivered":
        raise FerrymanError("notify.undelivered", f"{_shown_url(url)}: Apprise could not send it")
