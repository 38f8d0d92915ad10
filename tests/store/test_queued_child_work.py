"""``store/startup/queued_child_work``: the CLI's look into a SQLite queue before the
store opens, which decides whether the template child processes fork from starts at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.links.profile import Output, Profile
from ferryman.model import ItemState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from ferryman.store.schema import items
from ferryman.store.startup.queued_child_work import ChildWork, queued_child_work, sqlite_path


def test_only_a_sqlite_file_has_a_path() -> None:
    assert sqlite_path("sqlite+aiosqlite:////data/ferryman.db") == Path("/data/ferryman.db")
    assert sqlite_path("sqlite:///rel/f.db?timeout=3") == Path("rel/f.db")
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_path("postgresql://u@localhost/ferryman") is None
    # One parser with the light store's: a path is percent-decoded (it was not here).
    assert sqlite_path("sqlite:////abs/x%20y.db") == Path("/abs/x y.db")
    assert sqlite_path("sqlite3:///x.db") is None  # not SQLAlchemy's sqlite scheme


def test_no_database_yet_wants_no_children(tmp_path: Path) -> None:
    assert queued_child_work(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}") == ChildWork()
    assert queued_child_work("postgresql+asyncpg://u@localhost/ferryman") == ChildWork()


async def test_a_queued_media_link_wants_children(tmp_path: Path, settings: Settings) -> None:
    store = await Store.open(settings.database)
    try:
        make_photo_set(tmp_path / "photos", 3, size=(32, 24))
        await intake.add_source(store, tmp_path / "photos")
        assert not queued_child_work(settings.database).any  # photos need no child
        await intake.add_source(
            store, "https://example.com/watch?v=abc", profile=Profile(Output.MP3, None, 192)
        )
        assert queued_child_work(settings.database) == ChildWork(links=True, converts=False)
    finally:
        await store.close()


@pytest.mark.parametrize("state", [ItemState.CONVERT, ItemState.CONVERTING, ItemState.READY])
async def test_an_item_to_convert_wants_children(
    tmp_path: Path, settings: Settings, state: ItemState
) -> None:
    store = await Store.open(settings.database)
    try:
        make_photo_set(tmp_path / "photos", 1, size=(32, 24))
        job = await intake.add_source(store, tmp_path / "photos")
        async with store.engine.begin() as conn:  # as a video read from it would be
            await conn.execute(
                insert(items).values(
                    job_id=job.id,
                    seq=0,
                    source_path="clip.mkv",
                    kind="video",
                    state=state.value,
                    created_at=0.0,
                    updated_at=0.0,
                )
            )
        wanted = state in (ItemState.CONVERT, ItemState.CONVERTING)
        assert queued_child_work(settings.database) == ChildWork(links=False, converts=wanted)
    finally:
        await store.close()


_TEMPLATES = """
import sys, time
import psutil
from ferryman.engine.plumbing.children import start_children_for

def templates():
    kids = psutil.Process().children()
    return sum("forkserver" in " ".join(kid.cmdline()) for kid in kids)

if __name__ == "__main__":
    start_children_for(sys.argv[1], False)
    if sys.argv[2] == "0":
        # The template is forked before start_children_for returns (ensure_running):
        # one started is a child already, named or not yet. None at all: none started.
        print(len(psutil.Process().children()))
        sys.exit()
    deadline = time.monotonic() + 30  # a wait for its name, however loaded the machine
    while not templates() and time.monotonic() < deadline:
        time.sleep(0.02)  # a child script's poll (no test helpers on its path)
    print(templates())
"""


def _templates_started(database_url: str, expected: int) -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _TEMPLATES, database_url, str(expected)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


async def test_the_template_starts_at_once_only_for_work_in_children(
    tmp_path: Path, settings: Settings
) -> None:
    """An archive of photos never pays for the template's ~70 MB; a queued link does,
    and gets it loading while the engine loads."""
    store = await Store.open(settings.database)
    try:
        make_photo_set(tmp_path / "photos", 3, size=(32, 24))
        await intake.add_source(store, tmp_path / "photos")
        assert _templates_started(settings.database, 0) == 0
        await intake.add_source(
            store, "https://example.com/watch?v=abc", profile=Profile(Output.MP3, None, 192)
        )
        assert _templates_started(settings.database, 1) == 1
    finally:
        await store.close()
