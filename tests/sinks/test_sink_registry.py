"""The sink seam: a destination is one module plus its registration, nothing else.

The in-memory kind (``tests/support/memsink.py``) runs through the real engine with real photos
and a real video; the registry's own rules (schemes, parsing, policies, album sizes,
readiness) are checked on the built-in kinds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import AlbumFailed, AlbumWaiting, Event, EventBus
from ferryman.engine.plumbing.media_options import media_options
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.media.policy import LIBRARY, LIBRARY_PLAYABLE, TELEGRAM, TELEGRAM_PREMIUM
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support import forked
from tests.support.engine_helpers import library_files, sha256
from tests.support.memsink import MemKind
from tests.support.statesink import Board, PostKind


def _inputs(folder: Path, photos: int) -> dict[str, str]:
    """A folder of real photos and one real video: source name → sha256."""
    made = make_photo_set(folder, photos)
    made.append(make_video(folder / "clip.mp4", 7, seconds=1.0))
    return {p.name: sha256(p) for p in made}


async def _run(store: Store, settings: Settings, **engine: Any) -> None:
    await asyncio.wait_for(Engine(store, settings, **engine).run(until_idle=True), 120)


async def test_an_in_memory_sink_runs_through_the_engine(
    tmp_path: Path, settings: Settings
) -> None:
    made = _inputs(tmp_path / "trip", 9)
    mem = MemKind(album_max=4)
    sinks = default_sinks().with_kind(mem)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(
            store, tmp_path / "trip", dest="mem:box", sinks=sinks, settings=settings
        )
        await _run(store, settings, sinks=sinks)
        done = await store.get_job(job.id)
        items = await store.job_items(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert {it.state for it in items} == {ItemState.DELIVERED}
    delivered = [f for album in mem.albums.values() for f in album.files]
    assert sorted(Path(f.source_path).name for f in delivered) == sorted(made)  # each once
    assert all(made[Path(f.source_path).name] == f.sha256 for f in delivered)
    # The kind's maximum (4) wins over album_size (10); the caption limit is its policy's.
    sizes = [len(album.files) for album in mem.albums.values()]
    assert settings.album_size == 10 and max(sizes) == 4 and sum(sizes) == 10
    assert all(a.target == "box" and len(a.caption) <= 12 for a in mem.albums.values())
    assert not list(settings.library.rglob("*"))  # nothing went to the library


async def test_a_file_the_sink_refuses_is_quarantined_and_the_rest_delivered(
    tmp_path: Path, settings: Settings
) -> None:
    made = _inputs(tmp_path / "trip", 5)
    refused = "photo_000002.jpg"
    mem = MemKind(album_max=10, refuse=frozenset({refused}))
    sinks = default_sinks().with_kind(mem)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, tmp_path / "trip", dest="mem:box", sinks=sinks)
        await _run(store, settings, sinks=sinks)
        done = await store.get_job(job.id)
        items = {Path(it.source_path).name: it for it in await store.job_items(job.id)}
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    kept = items.pop(refused)
    assert (kept.state, kept.error_code) == (ItemState.QUARANTINED, "sink.refused")
    assert kept.work_path is not None
    kept_path = Path(kept.work_path)
    assert kept_path.is_relative_to(settings.quarantine_dir) and kept_path.name == refused
    assert sha256(kept_path) == made[refused]  # the file itself, kept
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}
    delivered = sorted(Path(f.source_path).name for a in mem.albums.values() for f in a.files)
    assert delivered == sorted(set(made) - {refused})
    assert not list((settings.work_dir / f"job-{job.id:05d}").rglob("*.jpg"))


async def test_a_wait_the_sink_asks_for_is_honoured_uncounted(
    tmp_path: Path, settings: Settings
) -> None:
    _inputs(tmp_path / "trip", 3)
    mem = MemKind(album_max=10, waits=[1])
    sinks = default_sinks().with_kind(mem)
    # One counted failure would fail the album for good: a wait must not count.
    strict = settings.model_copy(
        update={"retry": settings.retry.model_copy(update={"max_attempts": 1})}
    )
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, tmp_path / "trip", dest="mem:box", sinks=sinks)
        await _run(store, strict, sinks=sinks, bus=bus)
        done = await store.get_job(job.id)
        items = await store.job_items(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert {it.state for it in items} == {ItemState.DELIVERED}
    waiting = [(e.album, e.seconds) for e in events if isinstance(e, AlbumWaiting)]
    assert waiting == [(1, 1)]
    assert len(mem.calls) == 2 and mem.calls[1] - mem.calls[0] >= 0.95  # to the second
    assert not [e for e in events if isinstance(e, AlbumFailed)]


async def test_a_sink_that_keeps_state_is_one_module_plus_registration_too(
    tmp_path: Path, settings: Settings
) -> None:
    """``tests/support/statesink.py`` keeps what it must (a post id before posting, the post's
    number after, a wait its board imposed) through the ``SinkState`` it is given: no
    table, migration or store method names it. Its board loses the first answer: the
    repeat posts nothing twice. Removing the job removes what it kept."""
    made = _inputs(tmp_path / "trip", 9)
    board = Board(lose_answers=1, waits=[1])
    sinks = default_sinks().with_kind(PostKind(board, album_max=4))
    quick = settings.model_copy(
        update={"retry": settings.retry.model_copy(update={"base_seconds": 0.05})}
    )
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(
            store, tmp_path / "trip", dest="post:wall", sinks=sinks, settings=settings
        )
        await _run(store, quick, sinks=sinks)
        done = await store.get_job(job.id)
        items = await store.job_items(job.id)
        state = store.sink_state("post")
        kept = await state.records(job.id)
        wait = await state.wait_until(["board"])
        await store.remove_job(job.id)
        left = await state.records(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert {it.state for it in items} == {ItemState.DELIVERED}
    posted = sorted(h for post in board.posts.values() for h in post.files)
    assert posted == sorted(made.values())  # every file once, though an answer was lost
    assert len(board.posts) == 3 and len(board.requests) == 4  # one album asked twice
    assert len(set(board.requests)) == 3
    assert sorted(r.value["number"] for r in kept) == [1, 2, 3]
    assert {r.value["post_id"] for r in kept} == set(board.posts)
    assert wait > 0  # the board's wait, kept for the next run
    assert left == []


async def test_the_library_takes_albums_larger_than_telegram(tmp_path: Path) -> None:
    """``album_size`` was capped at 10 for every destination; only Telegram has that cap."""
    settings = load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 12,
        },
    )
    photos = make_photo_set(tmp_path / "p", 13)
    sinks = default_sinks()
    assert sinks.album_size(settings, "library:") == 12
    assert sinks.album_size(settings, "telegram:me") == 10
    store = await Store.open(settings.database)
    try:
        await intake.add_source(store, make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos]))
        await _run(store, settings)
    finally:
        await store.close()
    by_album: dict[str, int] = {}
    for entry in library_files(settings.library):
        by_album[entry["album_dir"]] = by_album.get(entry["album_dir"], 0) + 1
    assert sorted(by_album.values()) == [1, 12]


# ------------------------------------------------------------------ the registry


def test_unknown_and_malformed_destinations_are_sink_unknown(settings: Settings) -> None:
    sinks = default_sinks()
    for dest in ("mem:box", "gopher:x", "library", "telegram:not a chat"):
        with pytest.raises(FerrymanError) as caught:
            sinks.parse(dest)
        assert caught.value.code == "sink.unknown", dest
    with pytest.raises(FerrymanError) as caught:
        media_options(settings, "mem:box", sinks)  # no silent fallback to a policy
    assert caught.value.code == "sink.unknown"
    assert "library:" in caught.value.message and "telegram:me" in caught.value.message


def test_parse_expand_and_describe(tmp_path: Path) -> None:
    sinks = default_sinks().with_kind(MemKind())
    assert sinks.schemes == ("library", "link", "telegram", "rclone", "mem")
    assert "mem" not in default_sinks().schemes  # a fresh registry each time, never shared
    assert sinks.parse("library:").target == ""
    assert sinks.parse("library:rel/x").target == os.path.abspath("rel/x")
    # the home folder, as a shell reads `~` (a preset saved with --to library:~/Podcasts)
    assert sinks.parse("library:~/P").target == os.path.join(os.path.expanduser("~"), "P")
    assert sinks.parse("telegram:-1001234/topic/5").target == "-1001234/topic/5"
    assert sinks.parse("mem:box").scheme == "mem"
    assert sinks.parse("link:").scheme == "link" and sinks.parse("link:").target == ""
    assert sinks.expand("@name") == "telegram:@name"
    assert sinks.expand("me") == "telegram:me"
    assert sinks.expand("-100123/topic/4") == "telegram:-100123/topic/4"
    assert sinks.expand("%box") == "mem:box"
    assert sinks.expand("library:/x") == "library:/x"
    assert sinks.expand("ftp://x") == "ftp://x"  # left for parse to refuse
    assert "mem:NAME" in sinks.describe() and "library:/some/path" in sinks.describe()


def test_policy_per_kind(settings: Settings) -> None:
    sinks = default_sinks().with_kind(MemKind())
    premium = settings.model_copy(
        update={"telegram": settings.telegram.model_copy(update={"premium": True})}
    )
    keeping = settings.model_copy(
        update={"media": settings.media.model_copy(update={"library_convert": False})}
    )
    converting = settings.model_copy(
        update={"media": settings.media.model_copy(update={"library_convert": True})}
    )
    assert sinks.policy(keeping, "library:/x") is LIBRARY  # originals kept
    assert sinks.policy(converting, "library:/x") is LIBRARY_PLAYABLE
    assert media_options(keeping, "library:?convert=yes", sinks).policy is LIBRARY_PLAYABLE
    assert sinks.policy(keeping, "link:") is LIBRARY_PLAYABLE  # a download plays anywhere
    assert sinks.policy(settings, "telegram:me") is TELEGRAM
    assert sinks.policy(premium, "telegram:me") is TELEGRAM_PREMIUM
    assert media_options(settings, "mem:box", sinks).policy.caption_chars == 12
    assert media_options(premium, "telegram:me", sinks).policy.caption_chars == 2048
    named = settings.model_copy(
        update={"media": settings.media.model_copy(update={"policy": "telegram"})}
    )
    assert media_options(named, "library:", sinks).policy is TELEGRAM  # the settings name one


# ------------------------------------------------------------------ readiness at intake


def _cli(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return forked.run(
        ["--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
    )


def _jobs(data: Path) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = json.loads(_cli(data, "status", "--json").stdout)["jobs"]
    return jobs


def test_adding_for_telegram_without_telegram_is_refused_at_once(tmp_path: Path) -> None:
    photos = make_photo_set(tmp_path / "p", 2)
    archive = make_zip(tmp_path / "enc.zip", [(p.name, p) for p in photos])
    data = tmp_path / "data"
    done = _cli(data, "add", str(archive), "--to", "telegram:me")
    assert done.returncode != 0 and "telegram.not_configured" in done.stderr, done
    assert _jobs(data) == []
    keys = {"FERRYMAN_TELEGRAM__API_ID": "12345", "FERRYMAN_TELEGRAM__API_HASH": "0" * 32}
    done = _cli(data, "add", str(archive), "--to", "telegram:me", **keys)
    assert done.returncode != 0 and "telegram.not_logged_in" in done.stderr, done
    assert "ferryman telegram login" in done.stderr
    assert _jobs(data) == []
    (data / "telegram").mkdir(parents=True)
    (data / "telegram" / "ferryman.session").write_bytes(b"")  # what a login leaves
    done = _cli(data, "add", str(archive), "--to", "telegram:me", **keys)
    assert done.returncode == 0, done
    assert [job["dest"] for job in _jobs(data)] == ["telegram:me"]


def test_add_help_lists_every_destination_form(tmp_path: Path) -> None:
    done = _cli(tmp_path, "add", "--help", COLUMNS="300")
    assert done.returncode == 0, done
    line = next(line for line in done.stdout.splitlines() if "--to" in line)
    for form in ("library:/some/path", "telegram:@name", "telegram:-100…/topic/ID"):
        assert form in line, line


def test_the_telegram_kind_is_light_until_a_sink_opens(tmp_path: Path) -> None:
    """Parsing, the policy and the readiness check never load Telethon."""
    code = (
        "import sys\n"
        "from ferryman.config import load_settings\n"
        "from ferryman.engine import runner\nfrom ferryman.engine.ops import intake\n"
        "from ferryman.sinks.builtin import default_sinks\n"
        f"s = load_settings(None, {{'data_dir': {str(tmp_path)!r}}})\n"
        "sinks = default_sinks()\n"
        "sinks.parse('telegram:@name'); sinks.policy(s, 'telegram:me')\n"
        "try:\n"
        "    sinks.check_ready(s, 'telegram:me')\n"
        "except Exception as e:\n"
        "    print(e.code)\n"
        "print('telethon' in sys.modules)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean, check=True
    )
    assert done.stdout.split() == ["telegram.not_configured", "False"]


async def test_a_kind_that_is_not_ready_records_nothing(tmp_path: Path, settings: Settings) -> None:
    sinks = default_sinks().with_kind(MemKind(ready=False))
    store = await Store.open(settings.database)
    try:
        with pytest.raises(FerrymanError) as caught:
            await intake.add_source(store, tmp_path, dest="mem:box", sinks=sinks, settings=settings)
        assert caught.value.code == "sink.io"
        assert await store.list_jobs() == []
    finally:
        await store.close()


def test_a_relative_library_is_kept_as_the_folder_named_where_the_job_was_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add --to library:out` in one folder, `run` started in another: it went to the
    other folder's out/ (a trial's). The job keeps the folder made absolute."""
    photos = make_photo_set(tmp_path / "p", 1)
    monkeypatch.chdir(tmp_path)
    new = intake.understand(photos[0], dest="library:out")
    assert new.dest == f"library:{tmp_path / 'out'}"
    assert intake.understand(photos[0], dest="library:").dest == "library:"
    again = intake.understand(photos[0], dest=f"library:{tmp_path}/out/")
    assert again.dedupe_key == new.dedupe_key  # the same folder, however it was named
