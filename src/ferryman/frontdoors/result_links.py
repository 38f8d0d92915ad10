"""``ferryman links JOB``: a ``link:`` job's download links, signed afresh each time.

They are the links the page gives (``web.app.Web.links_of``): ``/d/`` links signed with
the data dir's secret, served by ``ferryman web``, or presigned S3 URLs when results are
in a bucket (served without ferryman). A link lives ``web.link_ttl``; asking again signs
new ones, so an expired link is never a dead end.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ferryman.clock import SYSTEM, Clock
from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.sinks.base import SinkRegistry, SinkState
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.telegram_files import in_telegram, telegram_links
from ferryman.web.results import open_results
from ferryman.web.signing import WHOLE_JOB, Signer, load_secret, person_bind


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    size: int
    url: str


@dataclass(frozen=True, slots=True)
class Links:
    files: list[Link]
    whole: str | None  # the whole job as one zip (through ferryman web)
    expires: float
    base: str  # where ferryman web is reached
    configured: bool  # base came from web.public_url (else from web.host and web.port)


def web_base(settings: Settings) -> tuple[str, bool]:
    """The address of ``ferryman web``: ``web.public_url``, else its host and port."""
    if settings.web.public_url:
        return settings.web.public_url.rstrip("/"), True
    host = settings.web.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = "[::1]" if host == "::" else (f"[{shown}]" if ":" in shown else shown)
    return f"http://{shown}:{settings.web.port}", False


def listening(base: str, within: float = 0.5) -> bool:
    """Whether something answers at ``base``'s host and port now (ferryman web, likely)."""
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=within):
            return True
    except OSError:
        return False


async def job_links(
    settings: Settings,
    job: Job,
    sinks: SinkRegistry | None = None,
    clock: Clock = SYSTEM,
    kept: SinkState | None = None,
) -> Links:
    """``job``'s delivered files with links signed now (``clock``'s: what their expiry
    counts from); ``job.no_links`` unless its destination kind ``keeps_results``, or it
    went to Telegram and ``kept`` (the Telegram sink's records) says what it sent there:
    those links are read from Telegram by ``ferryman web`` (``web/telegram_links``)."""
    sinks = sinks or default_sinks()
    if kept is not None and in_telegram(job.dest, sinks):
        return await _telegram_links(settings, job, kept, clock)
    if not sinks.keeps_results(job.dest):
        raise FerrymanError(
            "job.no_links",
            f"job {job.id} delivers to {job.dest}; only jobs added with"
            f" --to {sinks.with_results()} have download links",
        )
    results = open_results(settings, clock)
    try:
        found = await results.files(job.id)
        expires = clock.now() + min(settings.web.link_ttl, results.max_ttl)
        base, configured = web_base(settings)
        signer = Signer(load_secret(settings.data_dir))
        bound = person_bind(job.account)  # of no use once its person is removed
        files = [
            Link(
                f.name,
                f.size,
                results.direct_url(job.id, f, expires)
                or f"{base}/d/{signer.sign(job.id, f.path, expires, bound)}",
            )
            for f in found
        ]
        whole = f"{base}/d/{signer.sign(job.id, WHOLE_JOB, expires, bound)}" if found else None
        return Links(files, whole, expires, base, configured)
    finally:
        await results.close()


async def _telegram_links(settings: Settings, job: Job, kept: SinkState, clock: Clock) -> Links:
    found = await telegram_links(kept, job.id)
    expires = clock.now() + settings.web.link_ttl
    base, configured = web_base(settings)
    signer = Signer(load_secret(settings.data_dir))
    bound = person_bind(job.account)
    files = [
        Link(f.name, f.size, f"{base}/d/{signer.sign(job.id, f.path, expires, bound)}")
        for f in found
    ]
    return Links(files, None, expires, base, configured)
