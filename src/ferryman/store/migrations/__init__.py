"""Frozen migration steps: one module per schema version, applied in order.

Each step's DDL lives in its own module, with its own ``Table`` definitions (never
imported from ``schema.py``), so changing the live schema later cannot change what an
old step did. ``tests/store/test_migrations.py`` builds a database at every old version, fills
it, upgrades it and compares it with one built from ``schema.py``.

To add step N:

1. change ``schema.py`` (and ``model.py``) to the new shape;
2. add ``vNNNN_<what>.py`` here with an ``apply(conn)`` that brings a version N-1
   database to that shape: its own frozen tables or literal DDL, for SQLite and
   PostgreSQL (SQLite cannot alter a constraint: ``sqlite_rebuild.rebuild`` with the
   table's full new definition);
3. append its ``apply`` to ``STEPS`` below, and representative rows for any new table
   to ``tests/store/test_migrations.py`` (the test fails until both ends agree);
4. regenerate the light store's DDL: ``python -m tests.support.sqlite_ddl_gen``, then
   ``ruff format`` (``tests/store/test_light_store.py`` fails until then).

A step runs inside the migration's one transaction; on SQLite foreign keys are off
meanwhile and checked before the commit. Never edit a step once it is on main.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from ferryman.store.migrations import (
    v0001_initial,
    v0002_media,
    v0003_telegram,
    v0004_checks,
    v0005_sources,
    v0006_nodes,
    v0007_lookup_indexes,
    v0008_watches,
    v0009_notices,
    v0010_sink_state,
    v0011_turn_indexes,
    v0012_job_numbers,
    v0013_user_settings,
    v0014_job_inputs,
    v0015_watch_after,
    v0016_sink_uploads,
    v0017_accounts,
    v0018_reading,
    v0019_job_runs,
    v0020_read_claims,
    v0021_sessions,
    v0022_watch_numbers,
)

Step = Callable[[Connection], None]

STEPS: tuple[Step, ...] = (
    v0001_initial.apply,
    v0002_media.apply,
    v0003_telegram.apply,
    v0004_checks.apply,
    v0005_sources.apply,
    v0006_nodes.apply,
    v0007_lookup_indexes.apply,
    v0008_watches.apply,
    v0009_notices.apply,
    v0010_sink_state.apply,
    v0011_turn_indexes.apply,
    v0012_job_numbers.apply,
    v0013_user_settings.apply,
    v0014_job_inputs.apply,
    v0015_watch_after.apply,
    v0016_sink_uploads.apply,
    v0017_accounts.apply,
    v0018_reading.apply,
    v0019_job_runs.apply,
    v0020_read_claims.apply,
    v0021_sessions.apply,
    v0022_watch_numbers.apply,
)
