"""A read that ends cleanly ends in the transaction of its last entries: a job of one
photo costs one commit for its read, not two (``record_entries(last=True)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


async def test_a_photos_read_ends_with_its_entry_and_no_write_of_its_own(
    tmp_path: Path, store: Store, settings: Settings
) -> None:
    [photo] = make_photo_set(tmp_path / "in", 1)
    job = await intake.add_source(store, str(photo))
    ends: list[int] = []
    finish = store.finish_expansion

    async def counted(job_id: int, *args: Any, **kwargs: Any) -> list[int]:
        ends.append(job_id)
        return await finish(job_id, *args, **kwargs)

    store.finish_expansion = counted  # type: ignore[method-assign]
    await run_until_idle(store, settings)
    assert ends == []  # ended with its entry, in one transaction
    done = await store.get_job(job.id)
    assert done.state is JobState.DONE and done.read_done
    assert [e["disk_sha256"] for e in library_files(settings.library)] == [sha256(photo)]
