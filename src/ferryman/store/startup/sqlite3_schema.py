# ruff: noqa: E501
"""The schema as SQLite DDL, for the start-up store (``sqlite3_store.py``) to make a new database
without importing SQLAlchemy. Generated from ``schema.py`` by ``python -m
tests.support.sqlite_ddl_gen``; never edit by hand (``tests/store/test_light_store.py`` compares a
database made from these statements with one the full store makes).
"""

from __future__ import annotations

SCHEMA_VERSION = 22  # the migration steps these statements stand for

STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE audit ( id INTEGER NOT NULL, at FLOAT NOT NULL, actor TEXT NOT NULL, action VARCHAR(64) NOT NULL, target TEXT NOT NULL, address TEXT NOT NULL, PRIMARY KEY (id) )",
    "CREATE INDEX audit_at ON audit (at)",
    "CREATE TABLE drains ( node VARCHAR(120) NOT NULL, since FLOAT NOT NULL, PRIMARY KEY (node) )",
    "CREATE TABLE jobs ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, state VARCHAR(16) NOT NULL, paused BOOLEAN NOT NULL, priority INTEGER NOT NULL, password TEXT, dedupe_key VARCHAR(128), wait_reason VARCHAR(64), blocked BOOLEAN NOT NULL, error_code VARCHAR(64), error_message TEXT, cursor INTEGER NOT NULL, read_done BOOLEAN NOT NULL, summary TEXT, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, started_at FLOAT, finished_at FLOAT, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, notify TEXT, account_id INTEGER, run INTEGER DEFAULT 0 NOT NULL, read_claims INTEGER DEFAULT 0 NOT NULL, CONSTRAINT jobs_state_check CHECK (state IN ('queued', 'reading', 'active', 'needs_password', 'done', 'failed', 'cancelled')), UNIQUE (dedupe_key) )",
    "CREATE INDEX jobs_account ON jobs (state, account_id)",
    "CREATE INDEX jobs_claim ON jobs (state, priority DESC, cursor, id)",
    "CREATE TABLE nodes ( owner VARCHAR(120) NOT NULL, node VARCHAR(120) NOT NULL, pid INTEGER NOT NULL, stages TEXT NOT NULL, started_at FLOAT NOT NULL, heartbeat_at FLOAT NOT NULL, stopped_at FLOAT, PRIMARY KEY (owner) )",
    "CREATE INDEX nodes_node ON nodes (node)",
    "CREATE TABLE notices ( id INTEGER NOT NULL, kind VARCHAR(32) NOT NULL, url TEXT NOT NULL, job_id INTEGER, watch_id INTEGER, digest INTEGER NOT NULL, payload TEXT NOT NULL, state VARCHAR(16) NOT NULL, priority INTEGER NOT NULL, error_message TEXT, created_at FLOAT NOT NULL, sent_at FLOAT, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, PRIMARY KEY (id), CONSTRAINT notices_state_check CHECK (state IN ('queued', 'sending', 'sent', 'failed')) )",
    "CREATE INDEX notices_claim ON notices (state, not_before)",
    'CREATE TABLE runtime_settings ( "key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key") )',
    "CREATE TABLE schema_version ( version INTEGER NOT NULL, applied_at FLOAT NOT NULL, PRIMARY KEY (version) )",
    'CREATE TABLE sink_uploads ( sink VARCHAR(32) NOT NULL, account VARCHAR(64) NOT NULL, "key" VARCHAR(1000) NOT NULL, file_id BIGINT NOT NULL, size BIGINT NOT NULL, part_size INTEGER NOT NULL, done TEXT NOT NULL, checks BLOB NOT NULL, started_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (sink, account, "key") )',
    "CREATE TABLE sink_waits ( sink VARCHAR(32) NOT NULL, scope VARCHAR(200) NOT NULL, not_before FLOAT NOT NULL, reason VARCHAR(64) NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (sink, scope) )",
    'CREATE TABLE tg_user_settings ( user_id BIGINT NOT NULL, "key" VARCHAR(32) NOT NULL, value TEXT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (user_id, "key") )',
    "CREATE TABLE users ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name VARCHAR(64) NOT NULL, password_hash TEXT, admin BOOLEAN NOT NULL, settings TEXT NOT NULL, tg_user_id BIGINT, created_at FLOAT NOT NULL, UNIQUE (name), UNIQUE (tg_user_id) )",
    "CREATE TABLE watches ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, kind VARCHAR(16) NOT NULL, source TEXT NOT NULL, dest TEXT NOT NULL, profile TEXT, every_seconds FLOAT NOT NULL, window VARCHAR(16), since VARCHAR(16) NOT NULL, \"match\" TEXT, skip_match TEXT, min_duration FLOAT, max_duration FLOAT, state VARCHAR(16) NOT NULL, paused BOOLEAN NOT NULL, priority INTEGER NOT NULL, primed BOOLEAN NOT NULL, next_check_at FLOAT NOT NULL, last_check_at FLOAT, last_ok_at FLOAT, last_code VARCHAR(64), last_message TEXT, failures INTEGER NOT NULL, found INTEGER NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, notify TEXT, after_delivery TEXT, account_id INTEGER, CONSTRAINT watches_state_check CHECK (state IN ('idle', 'checking')) )",
    "CREATE INDEX watches_due ON watches (state, next_check_at)",
    "CREATE TABLE albums ( id INTEGER NOT NULL, job_id INTEGER NOT NULL, seq INTEGER NOT NULL, grp VARCHAR(16) NOT NULL, state VARCHAR(16) NOT NULL, priority INTEGER NOT NULL, ref TEXT, error_code VARCHAR(64), error_message TEXT, created_at FLOAT NOT NULL, delivered_at FLOAT, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, PRIMARY KEY (id), CONSTRAINT albums_job_seq UNIQUE (job_id, seq), CONSTRAINT albums_grp_check CHECK (grp IN ('visual', 'document', 'audio')), CONSTRAINT albums_state_check CHECK (state IN ('sealed', 'delivering', 'delivered', 'failed')), FOREIGN KEY(job_id) REFERENCES jobs (id) )",
    "CREATE INDEX albums_claim ON albums (state, priority DESC, seq, id)",
    "CREATE INDEX albums_job ON albums (job_id, seq)",
    "CREATE TABLE fetches ( id INTEGER NOT NULL, job_id INTEGER NOT NULL, state VARCHAR(16) NOT NULL, priority INTEGER NOT NULL, path TEXT, size BIGINT, error_code VARCHAR(64), error_message TEXT, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, PRIMARY KEY (id), CONSTRAINT fetches_state_check CHECK (state IN ('queued', 'fetching', 'done', 'failed', 'cancelled')), UNIQUE (job_id), FOREIGN KEY(job_id) REFERENCES jobs (id) )",
    "CREATE INDEX fetches_claim ON fetches (state, priority, id)",
    "CREATE TABLE job_inputs ( dedupe_key VARCHAR(128) NOT NULL, job_id INTEGER NOT NULL, PRIMARY KEY (dedupe_key), FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE )",
    "CREATE INDEX job_inputs_job ON job_inputs (job_id)",
    "CREATE TABLE link_codes ( code VARCHAR(80) NOT NULL, user_id INTEGER NOT NULL, expires_at FLOAT NOT NULL, PRIMARY KEY (code), FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE )",
    "CREATE TABLE passkeys ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, credential_id VARCHAR(512) NOT NULL, public_key TEXT NOT NULL, sign_count INTEGER NOT NULL, created_at FLOAT NOT NULL, FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, UNIQUE (credential_id) )",
    "CREATE TABLE sessions ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, hash VARCHAR(80) NOT NULL, user_id INTEGER, token VARCHAR(80), created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL, UNIQUE (hash), FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE )",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    'CREATE TABLE source_memos ( job_id INTEGER NOT NULL, "key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (job_id, "key"), FOREIGN KEY(job_id) REFERENCES jobs (id) )',
    "CREATE TABLE tg_inbox ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, chat_id BIGINT NOT NULL, message_id BIGINT NOT NULL, sender_id BIGINT NOT NULL, file_key VARCHAR(120), name TEXT, size BIGINT, path TEXT, state VARCHAR(16) NOT NULL, job_id INTEGER, dest TEXT, error_code VARCHAR(64), created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, CONSTRAINT uq_tg_inbox_message UNIQUE (chat_id, message_id), CONSTRAINT tg_inbox_state_check CHECK (state IN ('downloading', 'done', 'failed', 'duplicate')), FOREIGN KEY(job_id) REFERENCES jobs (id) )",
    "CREATE INDEX ix_tg_inbox_file_key ON tg_inbox (file_key)",
    "CREATE TABLE tg_status ( job_id INTEGER NOT NULL, chat_id BIGINT NOT NULL, message_id BIGINT NOT NULL, percent INTEGER NOT NULL, text TEXT, edited_at FLOAT NOT NULL, PRIMARY KEY (job_id), FOREIGN KEY(job_id) REFERENCES jobs (id) )",
    "CREATE TABLE user_tokens ( id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, hash VARCHAR(80) NOT NULL, label TEXT NOT NULL, created_at FLOAT NOT NULL, FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, UNIQUE (hash) )",
    "CREATE TABLE watch_seen ( watch_id INTEGER NOT NULL, entry_key VARCHAR(64) NOT NULL, entry_id TEXT NOT NULL, title TEXT, job_id INTEGER, seen_at FLOAT NOT NULL, PRIMARY KEY (watch_id, entry_key), FOREIGN KEY(watch_id) REFERENCES watches (id) ON DELETE CASCADE )",
    "CREATE TABLE items ( id INTEGER NOT NULL, job_id INTEGER NOT NULL, seq INTEGER NOT NULL, source_path TEXT NOT NULL, kind VARCHAR(16) NOT NULL, state VARCHAR(16) NOT NULL, priority INTEGER NOT NULL, size BIGINT NOT NULL, sha256 VARCHAR(64), work_path TEXT, original_path TEXT, \"plan\" VARCHAR(16), reason TEXT, error_code VARCHAR(64), error_message TEXT, album_id INTEGER, media TEXT, actions TEXT, thumb_path TEXT, parts TEXT, source_size BIGINT, work_seconds FLOAT NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, owner VARCHAR(120), lease_until FLOAT, attempts INTEGER NOT NULL, not_before FLOAT NOT NULL, PRIMARY KEY (id), CONSTRAINT items_job_seq UNIQUE (job_id, seq), CONSTRAINT items_kind_check CHECK (kind IN ('photo', 'video', 'audio', 'animation', 'document', 'archive', 'other')), CONSTRAINT items_state_check CHECK (state IN ('convert', 'converting', 'ready', 'grouped', 'delivered', 'skipped', 'quarantined', 'failed', 'cancelled')), CONSTRAINT items_plan_check CHECK (plan IN ('as_is', 'remux', 'audio_transcode', 'image', 'animation', 'transcode', 'split', 'document', 'quarantine')), FOREIGN KEY(job_id) REFERENCES jobs (id), FOREIGN KEY(album_id) REFERENCES albums (id) )",
    "CREATE INDEX items_album ON items (album_id)",
    "CREATE INDEX items_claim ON items (state, priority DESC, seq, id)",
    "CREATE INDEX items_job_state ON items (job_id, state, seq)",
    "CREATE TABLE segments ( item_id INTEGER NOT NULL, part INTEGER NOT NULL, reports INTEGER NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (item_id, part), FOREIGN KEY(item_id) REFERENCES items (id) )",
    'CREATE TABLE sink_records ( job_id INTEGER NOT NULL, sink VARCHAR(32) NOT NULL, "key" VARCHAR(200) NOT NULL, album_id INTEGER, item_id INTEGER, value TEXT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (job_id, sink, "key"), FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE, FOREIGN KEY(album_id) REFERENCES albums (id) ON DELETE CASCADE, FOREIGN KEY(item_id) REFERENCES items (id) ON DELETE CASCADE )',
    "CREATE INDEX sink_records_album ON sink_records (album_id, sink, job_id)",
    "CREATE INDEX sink_records_item ON sink_records (item_id, sink, job_id)",
)
