"""A starting engine's first claims go in turns, one worker of each stage at a time.

Its workers' first claims queue for the store's writer. Started pool by pool, a job to
read waited at every start behind the fetch pool's three claims (0.03-0.1 s: the
first of each kind of claim builds its statement), though nothing was to be fetched.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support.memsink import MemKind


async def test_a_job_to_read_is_claimed_before_the_second_fetch_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims: list[str] = []
    claim_fetch, claim_job = Store.claim_fetch, Store.claim_job

    async def fetch(self: Store, *args: Any, **kwargs: Any) -> Any:
        claims.append("fetch")
        return await claim_fetch(self, *args, **kwargs)

    async def job(self: Store, *args: Any, **kwargs: Any) -> Any:
        claims.append("job")
        return await claim_job(self, *args, **kwargs)

    monkeypatch.setattr(Store, "claim_fetch", fetch)
    monkeypatch.setattr(Store, "claim_job", job)
    kind = MemKind()
    sinks = default_sinks().with_kind(kind)
    settings = load_settings(
        None,
        {"data_dir": tmp_path / "data", "space_floor": 0, "concurrency": {"fetch": 3}},
    )
    folder = tmp_path / "in"
    folder.mkdir()
    make_photo(folder / "p.jpg", 1, size=(32, 24))
    store = await Store.open(settings.database)
    try:
        await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        await asyncio.wait_for(Engine(store, settings, sinks=sinks).run(until_idle=True), 60)
    finally:
        await store.close()

    assert len(kind.albums) == 1
    assert claims[:2] == ["fetch", "job"]  # before: fetch, fetch, fetch, then the job
