"""How far a code reaches, as the registry says it (``ErrorSpec.one_entry``, ``waits``,
``ends_input``): the read stage and the batch source ask it instead of keeping lists
of their own (the read loop's list of codes that fail one entry, the batch's list of
waits, which held ``space.too_large`` that retries never waited for)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing.retry import again_after
from ferryman.error_codes import SPECS
from ferryman.errors import FerrymanError
from ferryman.model import Batch, BatchItem
from ferryman.sources.base import (
    Fetched,
    FetchPlan,
    ReadOptions,
    SourceRegistry,
)
from ferryman.sources.batch import BatchSource
from tests.support.fetch_source import SchemeFetchSource

ONE_ENTRY = {
    "archive.entry_corrupt",
    "archive.limit_exceeded",
    "source.entry_gone",
    "entry.internal",
}
WAITS = {"space.low", "network.metered", "network.offline", "power.low"}


def test_the_codes_that_fail_one_staged_entry_are_the_registrys() -> None:
    assert {s.code for s in SPECS if s.one_entry} == ONE_ENTRY
    for spec in SPECS:
        if spec.one_entry:  # recorded as the entry's failure: nothing to retry
            assert not spec.retryable and not spec.waits, spec.code
    # a limit concerns the whole input: the entry where it tripped fails, the read ends
    assert {s.code for s in SPECS if s.one_entry and s.ends_input} == {"archive.limit_exceeded"}
    assert FerrymanError("archive.entry_corrupt", "x").one_entry
    assert not FerrymanError("archive.password_required", "x").one_entry
    assert not FerrymanError("archive.truncated", "x").one_entry  # the archive's, not one entry's


def test_the_codes_that_wait_are_the_registrys_and_retry_waits_for_each(
    settings: Settings,
) -> None:
    assert {s.code for s in SPECS if s.waits} == WAITS
    for code in sorted(WAITS):
        spec = next(s for s in SPECS if s.code == code)
        assert spec.retryable and not spec.one_entry and not spec.ends_input, code
        again = again_after(FerrymanError(code, "x"), 99, settings)  # never runs out
        assert again is not None and not again.counted, code
        disk = code == "space.low"
        expected = settings.space_recheck_seconds if disk else settings.network.recheck_seconds
        assert again.delay == expected, code
    too_large = FerrymanError("space.too_large", "x")
    assert not too_large.waits and again_after(too_large, 1, settings) is None


class _Failing(SchemeFetchSource):
    """A fetch-first source whose every fetch fails with one code."""

    schemes = ("failing",)
    description = "fails"

    def __init__(self, code: str) -> None:
        self.code = code

    def open(self, uri: str, options: ReadOptions) -> None:
        raise AssertionError("never read")

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        raise FerrymanError(self.code, "as asked")


def _fetch_batch(tmp_path: Path, settings: Settings, code: str) -> None:
    registry = SourceRegistry((_Failing(code),))
    uri = str(Batch("b", (BatchItem("failing:1", "one"),)))
    plan = FetchPlan(
        folder=tmp_path / "fetched",
        network=settings.network,
        retry=settings.retry,
        client=lambda: None,  # type: ignore[arg-type,return-value]
    )
    asyncio.run(BatchSource(registry).fetch(uri, plan))


@pytest.mark.parametrize("code", sorted(WAITS))
def test_a_batch_input_that_waits_holds_the_whole_fetch(
    tmp_path: Path, settings: Settings, code: str
) -> None:
    with pytest.raises(FerrymanError) as raised:
        _fetch_batch(tmp_path, settings, code)
    assert raised.value.code == code


def test_a_batch_input_too_large_for_the_disk_fails_alone(
    tmp_path: Path, settings: Settings
) -> None:
    """No wait makes room for it (``space.too_large`` is no wait): that input is one
    failed entry of the job, and the fetch of the others goes on."""
    _fetch_batch(tmp_path, settings, "space.too_large")
    record = (tmp_path / "fetched" / "1" / "batch-input.json").read_text()
    assert "space.too_large" in record
