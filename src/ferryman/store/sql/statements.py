"""The statements every entry, batch and album runs, built once with named parameters.

Building a SQLAlchemy statement and computing its cache key cost more than SQLite
took to run it (py-spy on ``python -m bench pipeline``: bench/results/pipeline.md).
These objects are immutable; the store passes values
(``job_id``, ``now`` …) at each execution. Parameter names differ from column names:
SQLAlchemy keeps a column's own name for the VALUES and SET clauses.
"""

from __future__ import annotations

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from ferryman.model import ENCODING, AlbumState, ItemState, JobState, Plan
from ferryman.store.schema import albums, items, jobs, watches
from ferryman.store.shared.rows import TERMINAL_STATES

JOB_ID = bindparam("job_id", type_=Integer)
NOW = bindparam("now", type_=Float)
LIVE_STATES = [s.value for s in ItemState if not s.terminal]

GET_JOB = select(jobs).where(jobs.c.id == JOB_ID)

# The unpack stage: the cursor moves only while the reader holds the job.
ADVANCE = (
    update(jobs)
    .where(
        jobs.c.id == JOB_ID,
        jobs.c.owner == bindparam("holder", type_=String),
        jobs.c.state == JobState.READING.value,
    )
    .values(cursor=bindparam("to", type_=Integer), updated_at=NOW)
    .returning(*jobs.c)
)
# Only the ids come back: the rest is what the reader just wrote (no JSON read back).
INSERT_ITEMS = insert(items).returning(items.c.id, items.c.seq)
# A job's load: its ready items, and the files and bytes its live items hold in the
# work area, counted as ``model.held`` counts them (an original kept beside its copy,
# a split video's parts beside the whole, a transcode's copy to come).
_KEPT = items.c.original_path.is_not(None)
# NULL unless split (``rows.NewItem.media_columns``); a document's pieces are windows of
# its file, read in place: no copy (``model.parts_copied``).
_SPLIT = and_(items.c.parts.is_not(None), func.coalesce(items.c.plan, "") != Plan.DOCUMENT.value)
_ENCODING = items.c.state.in_(ENCODING)
JOB_LOAD = select(
    func.coalesce(func.sum(case((items.c.state == ItemState.READY.value, 1), else_=0)), 0),
    func.count()
    + func.coalesce(
        func.sum(
            case((_KEPT, 1), else_=0) + case((_SPLIT, 1), else_=0) + case((_ENCODING, 1), else_=0)
        ),
        0,
    ),
    func.coalesce(
        func.sum(
            items.c.size
            + case((_KEPT, func.coalesce(items.c.source_size, 0)), else_=0)
            + case((_SPLIT, items.c.size), else_=0)
            + case((_ENCODING, items.c.size), else_=0)
        ),
        0,
    ),
).where(items.c.job_id == JOB_ID, items.c.state.in_(LIVE_STATES))

# Sealing albums.
JOB_FOR_SEAL = select(jobs).where(jobs.c.id == JOB_ID).with_for_update()
# What grouping needs of an item ready, or still converting (it keeps its place in its
# album): its id, kind, plan, name, state and since when it is ready (not the whole row).
SEAL_ITEMS = (
    select(
        items.c.id,
        items.c.kind,
        items.c.plan,
        items.c.source_path,
        items.c.state,
        items.c.updated_at,
    )
    .where(
        items.c.job_id == JOB_ID,
        items.c.state.in_(
            [ItemState.READY.value, ItemState.CONVERT.value, ItemState.CONVERTING.value]
        ),
    )
    .order_by(items.c.seq)
)
LAST_ALBUM_SEQ = select(func.coalesce(func.max(albums.c.seq), 0)).where(albums.c.job_id == JOB_ID)
INSERT_ALBUM = insert(albums).returning(albums.c.id)
GROUP_ITEMS = (
    update(items)
    .where(items.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        album_id=bindparam("album", type_=Integer), state=ItemState.GROUPED.value, updated_at=NOW
    )
)

# Delivering albums.
ALBUM_ITEMS = (
    select(items).where(items.c.album_id == bindparam("album", type_=Integer)).order_by(items.c.seq)
)
_OPEN_STATES = [ItemState.READY.value, ItemState.CONVERT.value, ItemState.CONVERTING.value]
_JOB_ALBUMS = select(func.count()).where(albums.c.job_id == JOB_ID).scalar_subquery()
_JOB_OPEN_ITEMS = (
    select(func.count())
    .where(items.c.job_id == JOB_ID, items.c.state.in_(_OPEN_STATES))
    .scalar_subquery()
)
# What an album's delivery needs of its job, read where the album is claimed: the job and
# the caption's album count (final once the job is read and no item is left open).
DELIVERY_JOB = select(
    jobs,
    _JOB_ALBUMS.label("claim_albums"),
    _JOB_OPEN_ITEMS.label("claim_open_items"),
).where(jobs.c.id == JOB_ID)
ALBUM_DELIVERED = (
    update(albums)
    .where(albums.c.id == bindparam("album", type_=Integer), albums.c.owner == bindparam("holder"))
    .values(
        state=AlbumState.DELIVERED.value,
        ref=bindparam("delivered_ref", type_=String),
        delivered_at=NOW,
        owner=None,
        lease_until=None,
    )
)
ITEMS_DELIVERED = (
    update(items)
    .where(
        items.c.album_id == bindparam("album", type_=Integer),
        items.c.id.not_in(bindparam("ended", expanding=True)),
    )
    .values(state=ItemState.DELIVERED.value, updated_at=NOW)
)

# Housekeeping, every round.
FINISHABLE_JOBS = (
    select(jobs.c.id, jobs.c.error_code)
    .where(
        jobs.c.state == JobState.ACTIVE.value,
        jobs.c.read_done.is_(True),
        ~exists().where(items.c.job_id == jobs.c.id, items.c.state.not_in(TERMINAL_STATES)),
    )
    .order_by(jobs.c.id)  # several nodes' housekeepers lock them in one order: no deadlock
)
# Each with whether it has items ready to seal (``SEAL_ITEMS``): a seal finds nothing
# to do for a job without.
ACTIVE_JOBS = select(
    jobs.c.id,
    exists().where(items.c.job_id == jobs.c.id, items.c.state == ItemState.READY.value),
).where(
    jobs.c.state.in_(
        [JobState.READING.value, JobState.ACTIVE.value, JobState.NEEDS_PASSWORD.value]
    ),
    jobs.c.paused.is_(False),
)
# Nothing left to do: every job ended, paused, or waiting for a password with nothing
# of it in flight.
BUSY_JOBS = select(func.count()).where(
    jobs.c.state.not_in([JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value]),
    jobs.c.paused.is_(False),
    or_(
        jobs.c.state != JobState.NEEDS_PASSWORD.value,
        exists().where(items.c.job_id == jobs.c.id, items.c.state.in_(LIVE_STATES)),
    ),
)

WATCH_CHECKING = "checking"  # a watch's state while it is checked (store/watches/sql.CHECKING)
# A watch is due or being checked.
WATCHES_BUSY = (
    select(func.count())
    .select_from(watches)
    .where(
        watches.c.paused.is_(False),
        or_(watches.c.state == WATCH_CHECKING, watches.c.next_check_at <= NOW),
    )
)

# An album of the job waits for its sink or is being delivered: room will come.
ALBUMS_IN_FLIGHT = select(
    exists().where(
        albums.c.job_id == JOB_ID,
        albums.c.state.in_([AlbumState.SEALED.value, AlbumState.DELIVERING.value]),
    )
)
