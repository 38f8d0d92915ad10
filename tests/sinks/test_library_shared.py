"""One library, many writers (issue 79): two data folders, a job removed and added
again, two engines on one PostgreSQL store: every file in the library once, nothing
taken over, nothing lost; a file whose bytes are there already is not copied again;
and each library file is the library's own (a person's source edited or emptied
after delivery leaves it as it was). Real zips and photos, the CLI and the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.conftest import PG_DSN, _reset_postgres
from tests.support.engine_helpers import library_files, sha256

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "200",
}
LAYOUTS = ["{source}/{path}/{name}", "albums"]


def cli(data: Path, *args: str, layout: str) -> Result:
    env = ENV | {"FERRYMAN_LIBRARY_LAYOUT": layout}
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=env)


def _media(library: Path) -> dict[str, str]:
    """Every file a person sees in the library (not ferryman's records), by its hash."""
    found = {}
    for path in library.rglob("*"):
        rel = path.relative_to(library)
        if path.is_file() and ".ferryman" not in rel.parts and path.name != "manifest.json":
            found[str(rel)] = sha256(path)
    return found


def _zip(path: Path, seeds: dict[str, int]) -> tuple[Path, dict[str, str]]:
    """A zip of photos named as given; their hashes by name."""
    photos = {name: make_photo(path.parent / "made" / name, seed) for name, seed in seeds.items()}
    return make_zip(path, [(name, p) for name, p in photos.items()]), {
        name: sha256(p) for name, p in photos.items()
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_two_data_folders_into_one_library_lose_nothing(tmp_path: Path, layout: str) -> None:
    """Both jobs are job 1 of a data folder named "flat": the second's records go beside
    the first's, never over them, and each job's photos are all in the library."""
    library = tmp_path / "LIB"
    first, first_hashes = _zip(tmp_path / "flat.zip", {"a.jpg": 1, "b.jpg": 2})
    other, other_hashes = _zip(tmp_path / "other" / "flat.zip", {"c.jpg": 3, "d.jpg": 4})
    to = ["--to", f"library:{library}"]
    ran = cli(tmp_path / "A", "add", "--run", str(first), *to, layout=layout)
    assert ran.exit_code == 0, ran.output
    ran = cli(tmp_path / "B", "add", "--run", str(other), *to, layout=layout)
    assert ran.exit_code == 0, ran.output

    held = sorted(_media(library).values())
    assert held == sorted([*first_hashes.values(), *other_hashes.values()])
    delivered = sorted(f["disk_sha256"] for f in library_files(library))
    assert delivered == held  # each data folder's records name its own files


@pytest.mark.parametrize("layout", LAYOUTS)
def test_removed_and_added_again_delivers_again_without_a_second_copy(
    tmp_path: Path, layout: str
) -> None:
    library = tmp_path / "LIB"
    trip, hashes = _zip(tmp_path / "trip.zip", {"a.jpg": 1, "b.jpg": 2})
    to = ["--to", f"library:{library}"]
    data = tmp_path / "data"
    assert cli(data, "add", "--run", str(trip), *to, layout=layout).exit_code == 0
    assert cli(data, "remove", "1", layout=layout).exit_code == 0
    again = cli(data, "add", "--run", str(trip), *to, layout=layout)
    assert again.exit_code == 0, again.output
    held = _media(library)
    if layout == "albums":  # an album folder is a whole: the second job's beside the first's
        assert sorted(held.values()) == sorted([*hashes.values()] * 2)
    else:  # the same bytes at the same place: already there, not copied again
        assert sorted(held.values()) == sorted(hashes.values())
        assert "already there" in again.output


def test_a_taken_name_with_other_bytes_gets_a_free_one(tmp_path: Path) -> None:
    """Someone else's a.jpg in the library stays; ours is a.jpg's next free name."""
    library = tmp_path / "LIB"
    trip, hashes = _zip(tmp_path / "trip.zip", {"a.jpg": 1})
    (library / "trip").mkdir(parents=True)
    (library / "trip" / "a.jpg").write_bytes(b"someone else's photo")
    layout = LAYOUTS[0]
    ran = cli(
        tmp_path / "data", "add", "--run", str(trip), "--to", f"library:{library}", layout=layout
    )
    assert ran.exit_code == 0, ran.output
    assert (library / "trip" / "a.jpg").read_bytes() == b"someone else's photo"
    assert sha256(library / "trip" / "a (2).jpg") == hashes["a.jpg"]


def test_a_library_file_is_its_own_not_the_source_s(tmp_path: Path) -> None:
    """A folder's photo delivered, then edited in place and emptied: the library's
    copy is unchanged, another inode, with one link."""
    library = tmp_path / "LIB"
    folder = tmp_path / "Camera"
    photo = make_photo(folder / "IMG_1.jpg", 7)
    original = sha256(photo)
    ran = cli(
        tmp_path / "data", "add", "--run", str(folder), "--to", f"library:{library}",
        layout=LAYOUTS[0],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    [kept] = [library / rel for rel in _media(library)]
    assert sha256(kept) == original
    assert kept.stat().st_ino != photo.stat().st_ino
    assert kept.stat().st_nlink == 1
    with open(photo, "r+b") as handle:  # an editor saving in place
        handle.seek(100)
        handle.write(b"edited")
    assert sha256(kept) == original
    photo.write_bytes(b"")  # `: > IMG_1.jpg`
    assert sha256(kept) == original and kept.stat().st_size > 0


@pytest.mark.postgres
async def test_two_engines_on_one_postgres_store_into_one_library(tmp_path: Path) -> None:
    """Two engines share a PostgreSQL store and one library; a job removed and its
    input added again (the same job name, a new number), and another input of the
    same name: every photo in the library, each once."""
    if not PG_DSN:
        pytest.skip("two engines share a store on PostgreSQL: FERRYMAN_TEST_PG_DSN")
    await _reset_postgres(PG_DSN)
    pg_database_url = PG_DSN
    library = tmp_path / "LIB"

    def settings(node: str) -> Settings:
        return load_settings(
            None,
            {
                "data_dir": tmp_path / node,
                "database_url": pg_database_url,
                "poll_seconds": 0.05,
                "space_floor": 0,
                "album_size": 2,
                "library_layout": LAYOUTS[0],
                "library_dir": library,
            },
        )

    trip, trip_hashes = _zip(tmp_path / "trip.zip", {f"t{n}.jpg": n for n in range(5)})
    other, other_hashes = _zip(
        tmp_path / "other" / "trip.zip", {f"o{n}.jpg": 10 + n for n in range(5)}
    )
    a, b = settings("a"), settings("b")
    store_a, store_b = await Store.open(a.database), await Store.open(b.database)
    try:
        first = await intake.add_source(store_a, trip, settings=a)
        await _both(store_a, store_b, a, b)
        await store_a.remove_job(first.id)
        await intake.add_source(store_a, trip, settings=a)  # added again: a new number
        await intake.add_source(store_b, other, settings=b)
        await _both(store_a, store_b, a, b)
        jobs = await store_a.list_jobs()
        assert [j.state.value for j in jobs] == ["done", "done"]
    finally:
        await store_a.close()
        await store_b.close()
    assert sorted(_media(library).values()) == sorted(
        [*trip_hashes.values(), *other_hashes.values()]
    )


async def _both(store_a: Store, store_b: Store, a: Settings, b: Settings) -> None:
    await asyncio.wait_for(
        asyncio.gather(
            Engine(store_a, a).run(until_idle=True), Engine(store_b, b).run(until_idle=True)
        ),
        120,
    )
