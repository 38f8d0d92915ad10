"""Tables. One row per job, per item (media entry) and per album; nothing else is truth.

The live shape: queries use it, and ``tests/store/test_migrations.py`` checks that the frozen
steps in ``migrations/`` build exactly this. Changing anything here needs a new step."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from ferryman.model import AlbumGroup, AlbumState, ItemState, JobState, MediaKind, Plan

metadata = MetaData()

# The chat's inbox states (no enum in model.py: only the store reads them).
TG_INBOX_STATES = ("downloading", "done", "failed", "duplicate")


def one_of(table: str, column: str, values: Iterable[str]) -> CheckConstraint:
    """The column holds one of ``values`` (or NULL where nullable): the database refuses
    a state the code does not know instead of storing it."""
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{table}_{column}_check")


# Lease columns shared by everything a worker can claim.
_LEASE = ("owner", "lease_until", "attempts", "not_before")


def _lease_columns() -> list[Column[object]]:
    return [
        Column("owner", String(120)),
        Column("lease_until", Float),
        Column("attempts", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
    ]


jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("password", Text),  # the job's passwords, a JSON list (the data dir is private)
    Column("dedupe_key", String(128), unique=True),
    Column("wait_reason", String(64)),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("cursor", Integer, nullable=False, default=0),
    Column("read_done", Boolean, nullable=False, default=False),
    Column("summary", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    *_lease_columns(),
    Column("notify", Text),  # schema v9: where this job's notices go (URLs, "none"), or NULL
    Column("account_id", Integer),  # schema v16: whose job (``users.id``); NULL: the admin's
    # schema v19: which run, 0 the first, one more at each retry (rows before it: their first)
    Column("run", Integer, nullable=False, server_default=text("0")),
    # schema v20: how often this run's read was claimed: a claim past the first resumes
    Column("read_claims", Integer, nullable=False, server_default=text("0")),
    one_of("jobs", "state", JobState),
    sqlite_autoincrement=True,  # schema v12: a removed job's number is never given again
)
# The claims' order (base.claim_pick: priority first, then the turn), schema step 11.
Index("jobs_claim", jobs.c.state, jobs.c.priority.desc(), jobs.c.cursor, jobs.c.id)
# The jobs of a state by person: the claims' look for two people waiting (its least and
# greatest account, by seeks), a person's limits (schema step 16).
Index("jobs_account", jobs.c.state, jobs.c.account_id)

albums = Table(
    "albums",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("grp", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("ref", Text),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    *_lease_columns(),
    UniqueConstraint("job_id", "seq", name="albums_job_seq"),
    one_of("albums", "grp", AlbumGroup),
    one_of("albums", "state", AlbumState),
)
Index("albums_claim", albums.c.state, albums.c.priority.desc(), albums.c.seq, albums.c.id)
Index("albums_job", albums.c.job_id, albums.c.seq)  # a job's albums, at every seal

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("size", BigInteger, nullable=False, default=0),
    Column("sha256", String(64)),
    Column("work_path", Text),
    Column("original_path", Text),  # kept until the converted copy is delivered
    Column("plan", String(16)),
    Column("reason", Text),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("album_id", Integer, ForeignKey("albums.id")),
    Column("media", Text),
    Column("actions", Text),
    Column("thumb_path", Text),  # a video's thumbnail, in the work area
    Column("parts", Text),  # JSON list: the playable parts of a video split to fit a limit
    Column("source_size", BigInteger),  # bytes as read from the input, before any fix
    Column("work_seconds", Float, nullable=False, default=0.0),  # time spent fixing it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    *_lease_columns(),
    UniqueConstraint("job_id", "seq", name="items_job_seq"),
    one_of("items", "kind", MediaKind),
    one_of("items", "state", ItemState),
    one_of("items", "plan", Plan),
)
Index("items_job_state", items.c.job_id, items.c.state, items.c.seq)
Index("items_claim", items.c.state, items.c.priority.desc(), items.c.seq, items.c.id)
Index("items_album", items.c.album_id)  # an album's items, at every delivery

# Finished parts of a resumable transcode: a row exists only once its file is safe on disk.
# Kept after the item is done, as its history: ``reports`` > 1 means a part was redone.
segments = Table(
    "segments",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("part", Integer, primary_key=True),  # -1: the audio track; 0..: video segments
    Column("reports", Integer, nullable=False, default=1),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# What sinks keep (schema v10), through ``sinks.base.SinkState``: a sink's records, keyed
# by (sink, job, key), the value JSON of the sink's own shape (Telegram: each message's
# ``random_id``, written before the send, and each file's media reference). Every record
# belongs to a job, and to an album or item when it names one: removing those removes
# it, so no code that removes a job names a sink.
sink_records = Table(
    "sink_records",
    metadata,
    # The job first: its cascade and a sink's look-ups of a job's records both use it.
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("sink", String(32), primary_key=True),  # the sink's scheme: "telegram"
    Column("key", String(200), primary_key=True),
    Column("album_id", Integer, ForeignKey("albums.id", ondelete="CASCADE")),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", Float, nullable=False),
)
# An album's or item's records (a sink's look-ups, their cascades), led by the parent's
# id: walking the job's records by the primary key instead, for each file, grew with
# the job.
Index("sink_records_album", sink_records.c.album_id, sink_records.c.sink, sink_records.c.job_id)
Index("sink_records_item", sink_records.c.item_id, sink_records.c.sink, sink_records.c.job_id)

# Waits a destination imposed (Telegram's FLOOD_WAIT, SLOWMODE_WAIT), per sink and scope
# ("account", "peer:<id>"): honoured to the second, across restarts. Not a job's: kept.
sink_waits = Table(
    "sink_waits",
    metadata,
    Column("sink", String(32), primary_key=True),
    Column("scope", String(200), primary_key=True),
    Column("not_before", Float, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Big uploads under way (schema v18), through ``SinkState.upload_*``: the file id a sink's
# upload chose and the parts its server acknowledged (written in batches), so a run
# after a crash sends only the parts missing. Keyed by sink, account (whose server
# holds the parts) and the file's path; ``checks`` is each part's CRC-32 (4 bytes, little
# endian, in part order): a file that changed since is never finished with old parts.
# Not a job's: a finished upload removes its row, one past its parts' time is pruned.
sink_uploads = Table(
    "sink_uploads",
    metadata,
    Column("sink", String(32), primary_key=True),
    Column("account", String(64), primary_key=True),
    Column("key", String(1000), primary_key=True),  # the file's path
    Column("file_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("part_size", Integer, nullable=False),
    Column("done", Text, nullable=False),  # acknowledged parts as ranges: "0-41,43"
    Column("checks", LargeBinary, nullable=False),
    Column("started_at", Float, nullable=False),  # its first part: when its parts expire
    Column("updated_at", Float, nullable=False),
)

# Files and links sent to the account in the chat (the front door), one row per message.
tg_inbox = Table(
    "tg_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("sender_id", BigInteger, nullable=False),
    Column("file_key", String(120)),  # "<file id>:<size>": the same file is not taken twice
    Column("name", Text),
    Column("size", BigInteger),
    Column("path", Text),  # where the download goes (resumes from its length)
    Column("state", String(16), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id")),
    Column("dest", Text),
    Column("error_code", String(64)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("chat_id", "message_id", name="uq_tg_inbox_message"),
    Index("ix_tg_inbox_file_key", "file_key"),
    one_of("tg_inbox", "state", TG_INBOX_STATES),
    sqlite_autoincrement=True,  # schema v22: a button's row number names one file only
)

# The one status message per job that the front door keeps editing.
tg_status = Table(
    "tg_status",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("percent", Integer, nullable=False, default=0),
    Column("text", Text),
    Column("edited_at", Float, nullable=False),
)

# Each chat user's own settings (``/settings``): one row per key the user changed.
tg_user_settings = Table(
    "tg_user_settings",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# What the fetch stage does with a fetch-first input (sources.base.Access.FETCH).
FETCH_STATES = ("queued", "fetching", "done", "failed", "cancelled")

fetches = Table(
    "fetches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("path", Text),  # the fetched file, once done
    Column("size", BigInteger),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    *_lease_columns(),
    one_of("fetches", "state", FETCH_STATES),
)
Index("fetches_claim", fetches.c.state, fetches.c.priority, fetches.c.id)

# What a source keeps of an input between runs (a WebDAV walk's listing): a restart
# reads the same entries in the same order, whatever the server shows meanwhile.
source_memos = Table(
    "source_memos",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

runtime_settings = Table(
    "runtime_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Engines that ran against this store, one row per run (``owner``, as in the leases):
# heartbeats tell who is alive (``ferryman workers``, ``/readyz``).
nodes = Table(
    "nodes",
    metadata,
    Column("owner", String(120), primary_key=True),
    Column("node", String(120), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("stages", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
)
Index("nodes_node", nodes.c.node)

# Nodes told to take no new work (``ferryman drain NODE``), by name: a restart stays drained.
drains = Table(
    "drains",
    metadata,
    Column("node", String(120), primary_key=True),
    Column("since", Float, nullable=False),
)

# Watches (schema v8): a source checked on a schedule whose new entries become jobs.
WATCH_STATES = ("idle", "checking")

watches = Table(
    "watches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # the lister kind (feed, dav, ytdlp…)
    Column("source", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("profile", Text),  # the output profile's words (links to media), or NULL
    Column("every_seconds", Float, nullable=False),
    Column("window", String(16)),  # "HH:MM-HH:MM", local time, or NULL: any time
    Column("since", String(16), nullable=False),  # the first check: now | all | N newest
    Column("match", Text),
    Column("skip_match", Text),
    Column("min_duration", Float),
    Column("max_duration", Float),
    Column("state", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("primed", Boolean, nullable=False, default=False),  # the first check happened
    Column("next_check_at", Float, nullable=False),
    Column("last_check_at", Float),
    Column("last_ok_at", Float),
    Column("last_code", String(64)),
    Column("last_message", Text),
    Column("failures", Integer, nullable=False, default=0),  # in a row, for the backoff
    Column("found", Integer, nullable=False, default=0),  # jobs made, all told
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    *_lease_columns(),
    Column("notify", Text),  # schema v9: where its notices (and its jobs') go, or NULL
    Column("after_delivery", Text),  # schema v15: a folder's file once delivered, or NULL
    Column("account_id", Integer),  # schema v16: whose watch (``users.id``); NULL: the admin's
    one_of("watches", "state", WATCH_STATES),
    sqlite_autoincrement=True,  # schema v22: a removed watch's number is never given again
)
Index("watches_due", watches.c.state, watches.c.next_check_at)

# What a watch has seen, by the source's stable id (hashed: ids can be long links):
# written in the transaction that makes the entry's job, so nothing is made twice.
watch_seen = Table(
    "watch_seen",
    metadata,
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_key", String(64), primary_key=True),  # sha256 of the stable id
    Column("entry_id", Text, nullable=False),
    Column("title", Text),
    Column("job_id", Integer),  # NULL: marked seen without a job (--since now, filtered)
    Column("seen_at", Float, nullable=False),
)

# Each input of a job of several (a watch's look, ``sources.batch``) by its dedupe key
# (schema v14), written with the job: a dedupe check looks here as well as at
# ``jobs.dedupe_key``, so an input a look took is no new job's. Removed with its job.
job_inputs = Table(
    "job_inputs",
    metadata,
    Column("dedupe_key", String(128), primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
)
Index("job_inputs_job", job_inputs.c.job_id)  # its cascade when a job is removed

# The notices' outbox (schema v9): written when the event happens, sent by the
# engine's notifier under a lease, tried again with a growing wait, given up after
# ``notify.max_tries``. ``digest``: a job's end, which may go out with others.
NOTICE_STATES = ("queued", "sending", "sent", "failed")

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # the event's kind (job_finished…)
    Column("url", Text, nullable=False),  # one target: an Apprise URL or ferryman(s)://
    Column("job_id", Integer),
    Column("watch_id", Integer),
    Column("digest", Integer, nullable=False, default=0),
    Column("payload", Text, nullable=False),  # JSON: title, body, event, job view, watch
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    *_lease_columns(),
    one_of("notices", "state", NOTICE_STATES),
)
Index("notices_claim", notices.c.state, notices.c.not_before)

# Accounts (schema v16): the people of one ferryman, their own API tokens (hashed), passkeys,
# the one-time codes that link a Telegram account, and the audit of sign-ins and
# administrators' actions. ``settings``: JSON (default destination, link choices, limits).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text),  # argon2id (``web.accounts.passwords``); NULL: none set
    Column("admin", Boolean, nullable=False, default=False),
    Column("settings", Text, nullable=False, default="{}"),
    Column("tg_user_id", BigInteger, unique=True),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # schema v21: a removed person's number is never given again
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("hash", String(80), nullable=False, unique=True),  # sha256:<hex>
    Column("label", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # schema v21: a link bound to a revoked token stays dead
)

passkeys = Table(
    "passkeys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(512), nullable=False, unique=True),  # base64url
    Column("public_key", Text, nullable=False),  # base64url COSE key
    Column("sign_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # schema v21
)

# Sessions (schema v21): a page's sign-in, held here so that signing out, a password set
# anew, a removal (or a server token taken out of web.tokens) ends it at once; the
# cookie carries only a random key, kept hashed. ``user_id`` NULL: a server token's
# session (``token``: a prefix of that token's hash).
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hash", String(80), nullable=False, unique=True),  # sha256:<hex> of the cookie
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
    Column("token", String(80)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    sqlite_autoincrement=True,  # a link bound to an ended session stays dead
)
Index("sessions_user", sessions.c.user_id)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String(80), primary_key=True),  # sha256:<hex> of the code shown once
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", Float, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", Text, nullable=False),  # a person's name, "admin-token", "cli"
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("address", Text, nullable=False),
)
Index("audit_at", audit.c.at)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)
