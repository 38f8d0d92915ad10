"""The ``link:`` destination: finished files kept in the results store, to be fetched
through a signed download link (``ferryman web``); ``link:telegram``: kept in Telegram
instead (``TelegramLinkKind``, below).

Albums are written as the library writes them (built under a hidden name, renamed into
place, hard-linked from the work area when it can), but into
``<results_dir>/job-<id>/<NNNN>/``: by job id, so two jobs of the same name never meet,
and so the web finds a job's files without asking the store. ``results.retention``
deletes them later (``web.results``).

With ``[results.s3]`` the same layout goes into a bucket: ``<prefix>job-<id>/<NNNN>/``,
each file uploaded, the manifest last, so an album without its manifest is not yet
there (a crash mid-album uploads it again under the same keys: nothing twice).

Each photo and video also gets a small WebP preview beside it, made at delivery
(``media.preview``, on a thread): ``<NNNN>/.thumbs/<file name>.webp``, for the page's
gallery. A file without one (audio, a preview that could not be made) is still there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.media.policy import LIBRARY_PLAYABLE
from ferryman.model import Job, MediaKind
from ferryman.resources import Shared
from ferryman.sinks.base import (
    CaptionRender,
    Delivered,
    Delivery,
    Sink,
    SinkEnv,
    SinkKind,
    size_of,
)
from ferryman.sinks.library import MANIFEST, LibrarySink, album_layout, check_writable
from ferryman.sinks.telegram_kind import TelegramKind, telegram_accounts, telegram_ready
from ferryman.sinks.telegram_target import telegram_target

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ferryman.config import S3Settings, Settings
    from ferryman.media.box.pool import Decoder
    from ferryman.media.policy import Policy
    from ferryman.net.s3 import S3Client


PREVIEWS = ".thumbs"  # the folder of previews inside an album


def preview_path(name: str) -> str:
    """Where the preview of an album's file ``name`` is kept, inside the album."""
    return f"{PREVIEWS}/{name}.webp"


def album_previews(
    delivery: Delivery, files: list[tuple[Path, str]]
) -> Iterator[tuple[str, bytes]]:
    """(delivered name, WebP) for each file of the album with a picture; blocking.
    ``files`` is ``album_layout``'s: each item's files in turn (a split video's parts
    share its thumbnail)."""
    at = 0
    for item in delivery.album.items:
        count = len(item.files)
        thumb = Path(item.thumb_path) if item.thumb_path else None
        for path, name in files[at : at + count]:
            data = boxed_preview(delivery.decoder, path, item.kind, thumb)
            if data is not None:
                yield name, data
        at += count


def boxed_preview(
    decoder: Decoder | None, path: Path, kind: MediaKind, thumb: Path | None = None
) -> bytes | None:
    """``media.preview.make_preview`` run by ``decoder`` (the engine's confined workers):
    a delivered file is still untrusted bytes, and a video whose thumbnail could not be
    made in the box is the one most likely to hang a decoder here. A limit met (memory,
    time, a crash) costs the tile its picture, never the delivery (blocking). ``decoder``
    None: in this process (tools, tests)."""
    from ferryman.media.box.pool import IN_PROCESS, DecodeLimits, DecoderBug  # lazy: start-up

    try:
        size = path.stat().st_size
        made = (decoder or IN_PROCESS).run(
            "ferryman.media.preview:make_preview",
            path,
            kind,
            thumb,
            limits=DecodeLimits.for_size(size),
        )
    except (OSError, FerrymanError, DecoderBug) as exc:
        log.warning("no preview for %s: %s", path.name, exc)
        return None
    return made if isinstance(made, bytes) else None


def job_results(root: Path, job_id: int) -> Path:
    """The folder holding one job's delivered albums."""
    return root / f"job-{job_id}"


def job_prefix(prefix: str, job_id: int) -> str:
    """The keys of one job's albums in the S3 results store start with this."""
    return f"{prefix}job-{job_id}/"


def s3_client(settings: S3Settings) -> S3Client:
    """A client for the results bucket (the sink's and the web's)."""
    from ferryman.net.s3 import S3Client, S3Target  # lazy: start-up

    return S3Client(
        S3Target(
            endpoint=settings.endpoint,
            bucket=settings.bucket,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            region=settings.region,
            virtual_host=settings.virtual_host,
        )
    )


class LinkKind(SinkKind):
    """``link:``: files to download from ``ferryman web``; any album size, the
    library's playback rules (plays in a browser and on a phone)."""

    scheme = "link"
    description = (
        "link: (a download link, served by `ferryman web`), link:telegram (the file kept"
        " in Telegram, the link read from there)"
    )
    client_target: str | None = ""  # a client may name ``telegram``
    album_max: int | None = None
    builds_folders = True  # a results folder's sink sweeps ``.NNNN.partial`` (not S3's)
    keeps_results = True  # served as download links by ``ferryman web``

    def variant(self, target: str) -> SinkKind:
        return TELEGRAM_LINK if target.strip() == TelegramLinkKind.target else self

    def parse(self, target: str) -> str:
        if target.strip():  # one results store per data dir: nothing else to choose
            raise ValueError(f"link:{target} is not one: use link: or link:telegram")
        return ""

    def words(self, target: str) -> str:
        return "a download link"

    def policy(self, settings: Settings) -> Policy:
        return LIBRARY_PLAYABLE  # a download link's file plays in any browser or phone

    def forget(self, settings: Settings, job: Job) -> list[Path]:
        """A removed job's results folder goes with it (a bucket's objects are the
        web's ``ResultsStore.remove``)."""
        return [job_results(settings.results_dir, job.id)] if settings.results.s3 is None else []

    def check_ready(self, settings: Settings, target: str) -> None:
        """The results folder must be one ferryman can write (a bucket is asked when
        the engine starts: ``preflight``)."""
        if settings.results.s3 is None:
            check_writable(settings.results_dir)

    def open(self, target: str, env: SinkEnv) -> Sink:
        s3 = env.settings.results.s3
        if s3 is None:
            return LinkSink(env.settings.results_dir)
        return S3LinkSink(_shared_client(s3, env.resources), s3.prefix)

    async def preflight(self, settings: Settings, resources: Shared) -> None:
        """The results bucket answers to the keys (``results.bucket`` if not)."""
        s3 = settings.results.s3
        if s3 is not None:
            await _shared_client(s3, resources).check()


class TelegramLinkKind(TelegramKind):
    """``link:telegram``: the job's files sent to Telegram (to ``telegram.link_chat``,
    the account's Saved Messages unless set) as documents, by the Telegram sink (its
    exactly-once sends, its records of each document: ``sinks/telegram_files``), and
    its links read from there by ``ferryman web`` (``web/telegram_links``). Nothing of
    the job's bytes stays on this machine once delivered: the work area goes with the
    job's end, as for any job, and nothing is written to the results folder. The media
    is made as for ``link:`` (plays in a browser or a phone), within Telegram's size
    limit: a video over it is cut into parts that each play (``media/split``), a link
    each; another file over it is cut by bytes into pieces (``engine/read/prepare``),
    served as one file by one link (``web/telegram_links``)."""

    scheme = "link"
    target = "telegram"
    description = "link:telegram"
    client_target: str | None = ""
    keeps_results = True  # its links: the page's, ``ferryman links JOB``'s
    state_scope = "telegram"  # the Telegram sink's records, waits and uploads, shared
    joins_pieces = True  # a file over Telegram's limit: pieces, one link joining them
    takes: frozenset[str] = frozenset({"caption"})

    def variant(self, target: str) -> SinkKind:
        return self

    def parse(self, target: str) -> str:
        if target.strip() != self.target:
            raise ValueError(f"link:{target} is not one: use link: or link:telegram")
        return self.target

    def shorthand(self, value: str) -> str | None:
        return None

    async def check_person(self, target: str, linked: int | None, resources: Shared | None) -> None:
        """Anyone's: the files go to the server's own storage chat (``telegram.link_chat``),
        chosen by its settings, never by a person; what a person gets is a link."""
        return None

    def words(self, target: str) -> str:
        return "a download link, the file kept in Telegram"

    def policy(self, settings: Settings) -> Policy:
        """As ``link:``'s (plays in any browser or phone), within Telegram's file size
        and caption limits."""
        from dataclasses import replace  # lazy: start-up

        told = super().policy(settings)
        return replace(
            LIBRARY_PLAYABLE, max_file_bytes=told.max_file_bytes, caption_chars=told.caption_chars
        )

    def forget(self, settings: Settings, job: Job) -> list[Path]:
        return []  # nothing of it on this machine (Telegram's messages stay, as a chat's)

    def check_ready(self, settings: Settings, target: str) -> None:
        """Telegram's (a session), and a chat to keep the files in: Saved Messages is a
        person's account's alone, so a pool of bots needs ``telegram.link_chat``."""
        chat = settings.telegram.link_chat
        telegram_ready(settings, f"keep link:telegram's files in Telegram (telegram:{chat})")
        telegram_target(chat)  # a malformed setting is said now
        if chat.strip() != "me":
            return
        from ferryman.telegram.account import remembered  # lazy: the pool's modules
        from ferryman.telegram.accounts import session_of

        own = session_of(settings, settings.telegram.session)
        flags = remembered(own) if own.exists() else None
        if own.exists() and not (flags is not None and flags.bot):
            return  # a person's account: its Saved Messages
        said = "is a bot's" if own.exists() else "is not logged in (only named accounts are)"
        raise FerrymanError(
            "telegram.no_saved_messages",
            f"cannot keep link:telegram's files in Saved Messages: the own account {said},"
            " and a bot has none; nothing was added",
        )

    def open(self, target: str, env: SinkEnv) -> Sink:
        from ferryman.sinks.telegram import TelegramSink  # lazy: Telethon
        from ferryman.sinks.telegram_state import TelegramState

        accounts = telegram_accounts(env.resources)
        accounts.refresh()
        for member in accounts.members:
            member.hub.keep_uploads(env.state)
        return TelegramSink(
            accounts,
            TelegramState(env.state),
            telegram_target(env.settings.telegram.link_chat),
            caption_limit=env.policy.caption_chars,
            clock=env.state.now,
            index="off",  # a store of files, not a chat people read
            documents_only=True,  # each file's bytes kept as sent: a link to each
        )


TELEGRAM_LINK = TelegramLinkKind()
KEPT_IN_TELEGRAM = "link:telegram"  # the destination, as a person names it


def _shared_client(s3: S3Settings, resources: Shared) -> S3Client:
    return resources.get(f"s3-results:{s3.endpoint}/{s3.bucket}", lambda: s3_client(s3))


class LinkSink(LibrarySink):
    """The library's delivery, laid out by job id."""

    def job_dir(self, job: Job) -> Path:
        return job_results(self.root, job.id)

    def add_extras(self, delivery: Delivery, files: list[tuple[Path, str]], tmp: Path) -> None:
        """The previews, in the album's folder before it is renamed into place."""
        for name, data in album_previews(delivery, files):
            target = tmp / preview_path(name)
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)


class S3LinkSink(Sink):
    """The same albums, uploaded to the results bucket."""

    def __init__(self, client: S3Client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _base(self, delivery: Delivery) -> str:
        return f"{job_prefix(self.prefix, delivery.job.id)}{delivery.album.seq:04d}/"

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether the album is not in the bucket: its manifest goes last, and the web
        shows no file of an album without one (what was uploaded of it goes with the
        job's objects, by ``results.retention``)."""
        return await self.client.get_bytes(self._base(delivery) + MANIFEST) is None

    async def deliver(self, delivery: Delivery) -> Delivered:
        import asyncio  # lazy: start-up
        import functools  # lazy: start-up
        import json  # lazy: start-up
        import mimetypes  # lazy: start-up

        base = self._base(delivery)
        ref = f"s3://{self.client.target.bucket}/{base}"
        found = await self.client.get_bytes(base + MANIFEST)
        if found is not None:  # delivered before a crash kept the store from knowing
            try:
                key = json.loads(found).get("key")
            except (ValueError, AttributeError):
                key = None
            if key != delivery.key:
                raise FerrymanError("sink.io", f"{ref} holds album {key}, not {delivery.key}")
            return Delivered(ref)
        files, manifest = album_layout(delivery)
        sizes = await asyncio.to_thread(lambda: {n: size_of(p) for p, n in files})
        tally = delivery.tally(sizes)
        for path, name in files:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            try:
                await self.client.put_file(
                    base + name, path, mime, sent=functools.partial(tally.sent, name)
                )
            except FileNotFoundError as exc:
                raise FerrymanError("sink.io", f"{path} is gone from the work area") from exc
        for name, data in await asyncio.to_thread(list, album_previews(delivery, files)):
            await self.client.put_bytes(base + preview_path(name), data, "image/webp")
        document = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        await self.client.put_bytes(base + MANIFEST, document, "application/json")
        return Delivered(ref)

    async def make_captions_final(self, job: Job, render: CaptionRender) -> int:
        """At the job's end: each album's manifest in the bucket with its caption final
        (one listing, then a read and at most a write per album)."""
        import json  # lazy: start-up

        changed = 0
        for found in await self.client.list(job_prefix(self.prefix, job.id)):
            if not found.key.endswith(f"/{MANIFEST}"):
                continue
            raw = await self.client.get_bytes(found.key)
            try:
                manifest = json.loads(raw or b"")
                said = manifest.get("caption_fields") or {}
                wanted = render(int(manifest["album"]), len(manifest.get("items") or ()), said)
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours: left as it is
            if manifest.get("job") != job.id or manifest.get("caption") == wanted:
                continue
            manifest["caption"] = wanted
            document = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            await self.client.put_bytes(found.key, document, "application/json")
            changed += 1
        return changed
