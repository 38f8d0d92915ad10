"""The settings' sections, one model each (``[concurrency]``, ``[network]``, ``[web]``…);
the values they take (sizes, templates) are ``config.types``. ``config.Settings`` holds
them; loading and the runtime overrides are there too."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ferryman.config.types import ByteSize, PositiveSize, ProxyAddresses, Seconds, TokenLines
from ferryman.phone import (
    PHONE_LOOKAHEAD,
    PHONE_THREADS,
    SERVER_FETCHES,
    default_fetches,
    default_lookahead,
    default_threads,
)


class Section(BaseModel):
    """A settings section: an unknown key and an infinite or NaN number are refused
    (``config.types`` bounds each duration and size besides)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Concurrency(Section):
    """Workers per stage; the defaults suit a phone (and downloads, where it runs)."""

    read: int = Field(1, ge=1, le=32, description="Jobs read at once.")
    convert: int = Field(1, ge=1, le=16, description="Transcodes at once.")
    deliver: int = Field(1, ge=1, le=32, description="Albums delivered at once.")
    fetch: int = Field(
        default_factory=default_fetches,
        ge=1,
        le=16,
        description=f"Downloads at once (default {SERVER_FETCHES}; 1 on a phone).",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: object) -> object:
        """``read`` was ``unpack`` in 0.1.0: taken until 0.2, never beside ``read``."""
        if isinstance(data, dict) and "unpack" in data:
            if "read" in data:
                raise ValueError(
                    "concurrency.unpack is concurrency.read's old name: give only read"
                )
            return {("read" if key == "unpack" else key): value for key, value in data.items()}
        return data


class Retry(Section):
    """Exponential backoff with jitter for retryable errors."""

    max_attempts: int = Field(5, ge=1, le=100, description="Tries of a failing step.")
    base_seconds: Seconds = Field(2.0, gt=0, description="The first wait between tries.")
    max_seconds: Seconds = Field(600.0, gt=0, description="The longest wait between tries.")
    jitter: float = Field(
        0.25, ge=0, le=1, description="A wait varied by up to this share, at random."
    )


ALBUM_WAIT_SECONDS = 600.0  # conversions run one at a time; a phone's take minutes each


class Convert(Section):
    """Transcode quality and limits."""

    crf: int = Field(23, ge=0, le=51, description="H.264 quality (lower: better, larger).")
    preset: str = Field(
        "veryfast",
        pattern="^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$",
        description="x264's speed against size (slower: smaller files, more battery).",
    )
    max_height: int = Field(
        1080, ge=144, le=4320, description="A transcode's largest height (pixels)."
    )
    audio_bitrate: int = Field(
        128_000, ge=32_000, le=512_000, description="A transcode's AAC bits a second."
    )
    timeout_seconds: Seconds = Field(
        3600.0, gt=0, description="A transcode taking longer is stopped (media.convert_timeout)."
    )
    album_wait_seconds: Seconds = Field(
        ALBUM_WAIT_SECONDS,
        description="How long an album waits for a file of its own still being converted,"
        " once its other files are ready; then it goes without it (it follows later).",
    )
    threads: int = Field(
        default_factory=default_threads,
        ge=0,
        le=64,
        description=f"Encoder and decoder threads a conversion (0: by the cores; {PHONE_THREADS}"
        " on a phone, for memory).",
    )
    lookahead: int | None = Field(
        default_factory=default_lookahead,
        ge=1,
        le=250,
        description=f"Frames x264 looks ahead, its lookahead thread's queue off (none: the"
        f" preset's; {PHONE_LOOKAHEAD} on a phone, for memory).",
    )


class MediaSettings(Section):
    """How media is made deliverable: whose limits, and what to do with oversized videos."""

    policy: str = Field(
        "auto",
        pattern="^(auto|telegram|telegram_premium|telegram_bot_api|library|library_playable)$",
        description="Whose limits apply; auto: the destination's own.",
    )
    library_convert: bool = Field(
        False,
        description="A library's photos and videos made to play anywhere (H.264 MP4, JPEG)."
        " Off: originals kept (HEVC, 4K, HDR, HEIC…), only what no media server reads repaired;"
        " one job: add --convert.",
    )
    oversize: str = Field(
        "split",
        pattern="^(split|scale)$",
        description="A video over the size limit: split at keyframes, or scale down.",
    )
    segment_seconds: Seconds = Field(
        20.0, ge=2, le=600, description="Transcode segment length: what a crash can cost."
    )
    max_image_pixels: int = Field(
        150_000_000,
        ge=1_000_000,
        le=178_000_000,  # Pillow refuses more than 2 x 89.5 MP before we could allow it
        description="Larger images are sent as documents (decompression bombs).",
    )
    max_image_bytes: ByteSize = Field(
        256 * 1024 * 1024,  # media.budget.DEFAULT_MAX_IMAGE_BYTES: why, in docs/media.md
        ge=16 * 1024 * 1024,
        description="A picture whose decoded samples (pixels x channels x bytes per sample)"
        " are over this is never decoded: sent as a document (memory per picture).",
    )
    decode_memory: ByteSize = Field(
        1024**3,  # media.box.pool.DEFAULT_MEMORY: why, in docs/media.md ("Decoding in a box")
        ge=64 * 1024 * 1024,
        description="Address space one decode (probe, thumbnail, remux, picture fit) may"
        " add in its worker process; past it the file ends media.decode_memory.",
    )
    max_file_bytes: PositiveSize | None = Field(
        None, description="Per-file limit instead of the policy's (e.g. a smaller upload cap)."
    )
    max_pages: int = Field(
        100,
        ge=1,
        le=10_000,
        description="A TIFF of more pages is sent as one document, not as a photo per page.",
    )


class ArchiveSettings(Section):
    """Hostile-input limits and the 7zz backend; defaults let real media archives through."""

    max_total_bytes: PositiveSize = Field(256 * 1024**3, description="Unpacked bytes per archive.")
    max_entries: int = Field(200_000, ge=1, description="Entries per archive at most.")
    max_ratio: float = Field(200.0, ge=1, description="Unpacked / packed bytes.")
    ratio_grace_bytes: ByteSize = Field(
        1024**3,
        description="max_ratio is judged only past this many unpacked bytes (a small"
        " archive of text may expand 250:1); a declared size is judged before decoding.",
    )
    max_depth: int = Field(2, ge=0, le=8, description="Archives inside archives.")
    stall_seconds: Seconds = Field(
        20.0,
        gt=0,
        description="libarchive reads in a child process, ended when it has sent nothing"
        " and read no input for this long (a malformed archive that spins); 7-Zip then"
        " reads the archive.",
    )
    decoder_memory: PositiveSize = Field(
        2 * 1024**3, description="Address space libarchive's child may use beyond the engine's."
    )
    sevenzip: Path | None = Field(
        None, description="A RAR-capable 7zz; empty: the bundled one, then 7zz/7z on PATH."
    )


class TelegramSettings(Section):
    """The Telegram account (user or bot), uploads, and the chat front door."""

    api_id: int | None = Field(None, ge=1, description="From my.telegram.org (API development).")
    api_hash: str | None = Field(None, description="From my.telegram.org; kept secret.")
    bot_token: str | None = Field(
        None, description="Log in as this bot instead of a user account; kept secret."
    )
    session: str = Field(
        "ferryman",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Session name: <data_dir>/telegram/<session>.session (0600).",
    )
    premium: bool | None = Field(
        None,
        description="Premium's limits (4000 MiB files, 2048-char captions): true/false forces;"
        " unset: the account's own flag, as Telegram said at login, whoami or serve.",
    )
    upload_connections: int = Field(
        8, ge=1, le=20, description="Upload connections at most (shared by the files of an album)."
    )
    parts_in_flight: int = Field(
        32, ge=1, le=64, description="Upload parts in flight at most (adapts down on floods)."
    )
    allow_users: list[str] = Field(
        default_factory=list,
        description="Who may send jobs in the chat: user IDs or @usernames (resolved at start).",
    )
    default_target: str | None = Field(
        None, description="Where jobs from the chat go unless a caption says `to: ...`."
    )
    link_chat: str = Field(
        "me",
        min_length=1,
        max_length=200,
        description="Where link:telegram keeps a job's files: me (the account's Saved"
        " Messages), @name or -100… (a channel: a bot has no Saved Messages).",
    )
    status_every_seconds: Seconds = Field(
        7.0, ge=1, description="A job's status message is edited at most this often."
    )
    index: Literal["off", "topics", "always"] = Field(
        "topics", description="A job's index of links: with /topics, in every group, or never."
    )
    allow_private_links: bool = Field(
        False,
        description="Take links (and notice URLs) from the chat to loopback, private and"
        " link-local addresses (home networks); off: `telegram serve` refuses them"
        " (network.block_private, link.blocked).",
    )


class NetworkSettings(Section):
    """Downloads: when a connection counts as stalled, and how links are followed."""

    stall_seconds: Seconds = Field(
        60.0, gt=0, description="No bytes for this long: reconnect and resume."
    )
    connect_timeout: Seconds = Field(20.0, gt=0, description="Seconds to connect to a host.")
    max_redirects: int = Field(10, ge=0, le=50, description="Redirects a download follows.")
    block_private: bool = Field(
        False,
        description="Refuse connections to loopback, private and link-local addresses for"
        " links, feeds, WebDAV, Torbox and a job's or watch's notices, checked at every"
        " connection and redirect (link.blocked; cloud metadata is refused always);"
        " an exposed `ferryman web` (tokens) turns it on unless web.allow_private_links.",
    )
    private_allowed: list[str] = Field(
        default_factory=list,
        description="Hosts or addresses taken even with block_private (a NAS at home).",
    )
    user_agent: str = Field(
        "ferryman/0.1",
        min_length=1,
        max_length=256,
        description="The User-Agent of downloads.",
    )
    stream_archives: str = Field(
        "auto",
        pattern="^(auto|never)$",
        description="auto: read an archive over HTTP when the server allows; never: fetch first.",
    )
    wifi_only: bool = Field(False, description="Download only on Wi-Fi (a phone's data plan).")
    recheck_seconds: Seconds = Field(
        30.0, gt=0, description="How often a download waiting for Wi-Fi or charge looks again."
    )


class PowerSettings(Section):
    """A phone's battery: downloads wait below ``min_battery`` % unless charging."""

    min_battery: int = Field(0, ge=0, le=100, description="0: no battery condition.")
    wake_lock: bool = Field(True, description="On Termux: hold a wake lock while jobs run.")


class WebdavLogin(Section):
    """A WebDAV server's account (``[webdav.hosts."dav.example.com"]``)."""

    username: str = Field(..., min_length=1)
    password: str = ""


class WebdavSettings(Section):
    """WebDAV logins by host (``host`` or ``host:port``); a ``dav://user:pw@host/``
    link's own user info is taken first, for a quick try."""

    hosts: dict[str, WebdavLogin] = Field(
        default_factory=dict,
        description='Logins by host, a table each: [webdav.hosts."dav.example.org"] with'
        " user and password.",
    )

    @field_validator("hosts")
    @classmethod
    def _hosts_any_case(cls, hosts: dict[str, WebdavLogin]) -> dict[str, WebdavLogin]:
        return {name.lower(): login for name, login in hosts.items()}

    def login_for(self, host: str, port: int | None) -> WebdavLogin | None:
        """The login for ``host:port``, else for ``host``, else None."""
        host = host.lower()
        found = self.hosts.get(f"{host}:{port}") if port else None
        return found or self.hosts.get(host)


class RcloneSettings(Section):
    """Where ``rclone:REMOTE:path`` destinations and inputs find their remotes."""

    config: Path | None = Field(
        None, description="The rclone.conf naming the remotes (unset: rclone's default)."
    )
    people_use_server: bool = Field(
        False,
        description="People (not administrators) without an rclone.conf of their own use"
        " the server's remotes.",
    )


class LinksSettings(Section):
    """Links to media (pages and platforms, through yt-dlp)."""

    cookies_file: Path | None = Field(
        None,
        description="A Netscape cookies.txt of a logged-in browser, for sites that need a"
        " login; never logged.",
    )
    cache_ttl: Seconds = Field(86400.0, ge=0, description="Seconds a link's result is reused.")
    playlist_max: int = Field(50, ge=1, le=5000, description="Entries taken of a playlist.")
    max_duration: Seconds = Field(0.0, ge=0, description="Longest video, in seconds; 0: no limit.")
    max_size: ByteSize = Field(0, description="Largest download; 0: no limit.")
    timeout_seconds: Seconds = Field(12 * 3600.0, gt=0, description="One link's fetch and making.")
    ffmpeg: str = Field(
        "auto",
        description="A binary for MP3/Opus, 3-4x faster than PyAV's encoders: auto"
        " (imageio-ffmpeg's, then ffmpeg on PATH, else PyAV), off (PyAV), or a path.",
    )
    js_runtime: str = Field(
        "auto",
        pattern=r"^(auto|off|(.*/)?(deno|node|bun|qjs|quickjs)[^/]*)$",
        description="What solves YouTube's challenges: auto (deno in ferryman's environment,"
        " then deno, node, bun or qjs on PATH), off, or a path to one of them.",
    )


class WebSettings(Section):
    """``ferryman web``: the page and the API."""

    host: str = Field(
        "127.0.0.1", description="Address to listen on; any but loopback needs web.tokens."
    )
    port: int = Field(8080, ge=0, le=65535, description="The page's port.")
    tokens: TokenLines = Field(
        default_factory=list,
        description="API tokens, stored hashed (sha256:<hex>, from `ferryman web token`);"
        " empty: no login, allowed on loopback only.",
    )
    link_ttl: Seconds = Field(86400.0, gt=0, description="Seconds a download link stays valid.")
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+(/\S*)?$",
        description="Where people reach `ferryman web` (a proxy's address):"
        " `ferryman links` begins its links with it; empty: http://host:port.",
    )
    stuck_after: Seconds = Field(
        300.0, gt=0, description="Seconds without progress before a running job is flagged."
    )
    max_upload: PositiveSize = Field(20 * 1024**3, description="Largest upload.")
    max_piece: PositiveSize = Field(
        64 * 1024**2,
        description="Largest piece of an upload in one PUT (the page sends 8 MiB pieces);"
        " a larger body is refused with request.too_large before it is read.",
    )
    allow_private_links: bool = Field(
        False,
        description="An exposed page (tokens, a public bind) takes links to loopback,"
        " private and link-local addresses too; off: refused with link.blocked. A"
        " loopback page without tokens takes them anyway; cloud metadata never.",
    )
    rate_limit: int = Field(
        120,
        ge=1,
        description="API requests a minute per token (an upload's pieces and its status"
        " are not counted).",
    )
    upload_expiry: Seconds = Field(
        86400.0,
        gt=0,
        description="Seconds an unfinished upload may lie untouched before it is deleted"
        " (the page left mid-file); a finished one stays with its job.",
    )
    trusted_proxies: ProxyAddresses = Field(
        default_factory=list,
        description="Addresses (or networks, 10.0.0.0/8) of the reverse proxies in front of"
        " the page: X-Forwarded-For is believed only from these (sign-in budgets, the"
        " audit); empty: from none, the connection's own address counts.",
    )


class NotifySettings(Section):
    """Notices when a job ends or waits on you, and when a watch finds or fails
    (``docs/watch.md``): Apprise URLs, or ``ferryman://``/``ferrymans://`` for a signed
    webhook whose body carries the job's view."""

    urls: list[str] = Field(
        default_factory=list,
        description="Apprise URLs (tgram://, discord://, ntfy://, json://…) or ferryman(s)://host/path.",
    )
    quiet: bool = Field(
        False,
        description="Send nothing to these URLs (a job's or a watch's --notify still speaks).",
    )
    digest_seconds: Seconds = Field(
        10.0,
        ge=0,
        description="Jobs ending within this many seconds go out as one notice; 0: each alone.",
    )
    webhook_secret: str = Field(
        "", description="Signs ferryman(s):// webhook bodies (X-Ferryman-Signature: HMAC-SHA256)."
    )
    max_tries: int = Field(
        8, ge=1, le=100, description="Deliveries tried before a notice is given up."
    )
    retry_seconds: Seconds = Field(5.0, gt=0, description="The first retry's wait; it doubles.")
    timeout_seconds: Seconds = Field(15.0, gt=0, description="One delivery's time limit.")


class WatchSettings(Section):
    """How much one watch check takes on (``docs/watch.md``): a source with thousands of
    new entries is recorded in short batches over several passes, so the API and the
    other stages keep their turn while it is taken in."""

    batch_size: int = Field(
        250,
        ge=1,
        le=5000,
        description="New entries recorded per transaction; other work runs between batches.",
    )
    entries_per_pass: int = Field(
        25_000,
        ge=1,
        description="New entries one check records at most; the rest are the next check's,"
        " due at once.",
    )
    settle_seconds: Seconds = Field(
        3.0,
        ge=0,
        le=3600,
        description="A watched folder's file is taken once it has not changed for this long.",
    )
    takeout_quiet_seconds: Seconds = Field(
        1800.0,
        ge=0,
        le=7 * 86400,
        description="A Google Takeout's part any watch finds is taken once no part of its"
        " set has come or changed for this long: the parts that came are then one job.",
    )
    folder_events: bool = Field(
        True,
        description="A watched folder's change notices wake its watch early; false: it is"
        " only looked at every --every.",
    )
    folders: list[str] = Field(
        default_factory=list,
        description="Folders the API and the chat may watch (and their subfolders); the CLI"
        " may watch any.",
    )


class S3Settings(Section):
    """An S3-compatible bucket for results (AWS, SeaweedFS, MinIO, R2…): several web
    front ends serve one set of results, and links are presigned S3 URLs."""

    endpoint: str = Field(
        ..., pattern=r"^https?://[^/\s]+", description="http(s)://host[:port] of the S3 API."
    )
    bucket: str = Field(..., min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    access_key: str = Field(..., min_length=1)
    secret_key: str = Field(..., min_length=1, description="Kept secret.")
    region: str = "us-east-1"
    prefix: str = Field(
        "", pattern=r"^([^/].*/)?$", description="Keys start with this ('' or 'name/')."
    )
    virtual_host: bool = Field(
        False, description="bucket.host/key URLs (AWS) instead of host/bucket/key."
    )


class ResultsSettings(Section):
    """Where the ``link:`` destination keeps finished files for download."""

    dir: Path | None = Field(None, description="Results folder; empty: <data_dir>/results.")
    s3: S3Settings | None = Field(None, description="An S3 bucket instead of the folder.")
    retention: Seconds = Field(
        7 * 86400.0, gt=0, description="Seconds a result is kept before it is deleted."
    )
