"""What the API accepts: strict models (an unknown key is refused, not ignored), the same
output profile as the CLI's flags and the chat's captions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.errors import FerrymanError
from ferryman.links.profile import Profile, from_choices
from ferryman.model import MAX_ROW_ID


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutputSpec(_Strict):
    """``as_is``: albums as they are (a link to media: MP4 up to 1080p)."""

    kind: Literal["as_is", "video", "audio", "mute"] = "as_is"
    quality: Literal["2160p", "1440p", "1080p", "720p", "480p", "360p", "best"] | None = None
    format: Literal["mp3", "m4a", "opus"] | None = None
    bitrate: int | None = Field(default=None, ge=32, le=320)
    playlist: bool = False
    subs: list[Annotated[str, Field(max_length=20)]] = Field(
        default_factory=list,
        max_length=8,
        description="Subtitles' languages (en, de, pt-BR): in the MP4 as its own tracks.",
    )
    nfo: bool = Field(default=False, description="For a library: .srt, .nfo and poster beside.")

    def profile(self) -> Profile | None:
        if self.kind == "as_is":
            if self.quality or self.format or self.bitrate:
                raise FerrymanError(
                    "link.bad_profile", "a quality, format or bitrate needs kind video or audio"
                )
            return from_choices(playlist=self.playlist, **self._extras())
        if self.kind == "audio":
            if self.quality:
                raise FerrymanError("link.bad_profile", "audio takes a format and a bitrate")
            return from_choices(
                audio=self.format or "mp3",
                bitrate=self.bitrate,
                playlist=self.playlist,
                **self._extras(),
            )
        if self.format or self.bitrate:
            raise FerrymanError("link.bad_profile", "a format and a bitrate are for audio")
        return from_choices(
            quality=self.quality or "1080p",
            mute=self.kind == "mute",
            playlist=self.playlist,
            **self._extras(),
        )

    def _extras(self) -> dict[str, Any]:
        return {"subs": ",".join(self.subs) or None, "nfo": self.nfo}


class DeliverSpec(_Strict):
    """Where albums go: a destination kind the server knows (its sink registry: link,
    library, telegram by default); the registry checks it (``SinkRegistry.for_client``)."""

    to: str = Field(
        default="link",
        max_length=40,
        description="A destination kind: link, library or telegram (and any the server adds).",
    )
    chat: str | None = Field(
        default=None,
        max_length=200,
        description="The target of a kind that takes one from a client (telegram: @name,"
        " -100…, or me; left out: me for an administrator, a person's own linked account).",
    )


class JobRequest(_Strict):
    source: str | None = Field(None, min_length=1, max_length=8000)
    upload_id: str | None = Field(None, min_length=1, max_length=64)
    output: OutputSpec = Field(default_factory=lambda: OutputSpec())
    deliver: DeliverSpec = Field(default_factory=lambda: DeliverSpec())
    password: str | None = Field(None, max_length=1000)
    force: bool = False

    @model_validator(mode="after")
    def _one_input(self) -> JobRequest:
        if (self.source is None) == (self.upload_id is None):
            raise ValueError("give exactly one of source and upload_id")
        return self


class PasswordRequest(_Strict):
    password: str = Field(min_length=1, max_length=1000)


class UploadRequest(_Strict):
    name: str = Field(min_length=1, max_length=1000)
    size: int = Field(ge=0)


class SessionRequest(_Strict):
    token: str = Field(min_length=1, max_length=1000)


EndedState = Literal["done", "failed", "cancelled"]
ENDED: tuple[EndedState, ...] = ("done", "failed", "cancelled")


class ClearRequest(_Strict):
    """Which ended jobs ``POST /api/v1/jobs/clear`` removes."""

    status: list[EndedState] = Field(default_factory=lambda: list(ENDED), min_length=1)


BULK_MAX = 1000  # the most jobs the page lists; a longer list is refused before any runs


class BulkRequest(_Strict):
    """Several jobs at once (``POST /api/v1/jobs/bulk``): one request, not one per job,
    so "Retry/Remove selected" never meets the rate limit."""

    action: Literal["retry", "remove", "cancel"]
    ids: list[int] = Field(min_length=1, max_length=BULK_MAX)

    @model_validator(mode="after")
    def _numbers(self) -> BulkRequest:
        if any(not 1 <= i <= MAX_ROW_ID for i in self.ids):
            raise ValueError("every id is a job's number, 1 or more")
        return self


class FileLink(BaseModel):
    """One result file with its signed link (and its preview's, signed the same way)."""

    name: str
    size: int
    mime: str
    url: str = Field(description="Signed: a /d/ link here or a presigned bucket URL.")
    expires_at: float = Field(description="Unix time the link (and the preview's) stops.")
    kind: str = Field(description="photo, video, audio or other.")
    duration: float | None = None
    preview: str | None = Field(None, description="A small WebP preview's signed link.")


class ZipLink(BaseModel):
    url: str | None = None
    expires_at: float | None = None


class FilesPage(BaseModel):
    """A page of a link job's files (a job's view carries the first one), with the
    totals of all of them and the zip of the whole job."""

    files: list[FileLink]
    offset: int
    next_offset: int | None = Field(description="Where the next page starts; null: none.")
    files_total: int
    bytes_total: int
    zip: ZipLink
    unavailable: str | None = Field(
        None, description="Why the results store did not answer (the last listing is shown)."
    )


class TelegramAccount(BaseModel):
    """One Telegram account of the engine's pool: its work since the engine started."""

    name: str = Field(description="The session's name (`telegram login --as NAME`).")
    own: bool = Field(description="The own account (`telegram.session`): me, private chats.")
    bot: bool
    premium: bool
    albums: int = Field(description="Albums it sent.")
    bytes: int = Field(description="File bytes it uploaded.")
    seconds: float = Field(description="Seconds it spent preparing its albums.")
    bytes_per_second: float = Field(description="Its upload speed (bytes / seconds; 0: none).")
    waits: int = Field(description="Waits Telegram imposed on it (flood, slow mode).")
    refused: int = Field(description="Albums it gave way on to another account.")
    waiting_seconds: float = Field(description="Seconds until it may send again (0: now).")


class TelegramAccounts(BaseModel):
    """The pool's figures as the running engine last wrote them (every 2 s at most)."""

    accounts: list[TelegramAccount] = Field(description="The own account first; empty: none.")
    note: str | None = Field(None, description="What the pool does not share (several).")


class YtDlp(BaseModel):
    """yt-dlp as installed (what a ferryman started now runs)."""

    version: str | None = Field(description="Its version, a release date; None: not installed.")
    age_days: int | None = Field(description="Days since that release (None: not known).")
    stale: bool = Field(description="Over 60 days old (or not known): sites may have changed.")
    update: str = Field(description="How an administrator updates it on the server.")


class SiteRecord(BaseModel):
    """How one site's links fared in the last day (``links/health``)."""

    site: str = Field(description="yt-dlp's extractor: youtube, vimeo, generic…")
    total: int = Field(description="Links that ended.")
    fetched: int = Field(description="Of them, downloaded whole.")
    failed: dict[str, int] = Field(description="The others, by error code.")
    last_at: float = Field(description="When the latest ended (Unix time).")
    last_code: str | None = Field(description="The latest one's code (None: it came).")


class Sites(BaseModel):
    """Which sites work now: the last day's links by site, most used first."""

    yt_dlp: YtDlp
    since: float = Field(description="The record's start (Unix time): a day ago.")
    sites: list[SiteRecord]


class PresetView(BaseModel):
    """A preset: a named bundle of a link's choices (``ferryman preset add``)."""

    name: str
    profile: str | None = Field(description="Its output profile's token (mp3-192, video-720).")
    dest: str | None = Field(description="Its destination (library:, telegram:me); None: any.")
    builtin: bool = Field(description="Built in (else the person's own).")
    says: str = Field(description="What it makes, in words: MP3 192 kbps, to library:.")
