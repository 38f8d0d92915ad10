"""A debrid service that refuses its key: the next step a person reads names that
service's own setting and the exact line that sets it (``debrid.alldebrid.api_key``,
``torbox.api_key``), not a ``debrid.SERVICE.api_key`` to work out; wherever the step is
shown: ``status``, a job's report, ``run``'s summary, the API's job and the page's line.
Against the local fakes of each service, answering a wrong key as it does."""

from __future__ import annotations

import asyncio

import pytest

from ferryman.config import Settings, TorboxSettings
from ferryman.engine.ops import intake, report
from ferryman.engine.ops.job_view import job_view
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError, next_step_for, page_line, step_of
from ferryman.model import JobState
from ferryman.sources.builtin import default_sources
from ferryman.store import Store
from ferryman.web.plain_words import page_error
from tests.sources.test_debrid_source import KINDS, MAGNET, cdn, fake, with_service
from tests.sources.test_torbox_source import tb_settings, torbox
from tests.support.fakedebrid import FakeDebrid
from tests.support.faketorbox import FakeTorbox

__all__ = ["cdn", "fake", "tb_settings", "torbox"]

SETTING = {
    "realdebrid": "debrid.realdebrid.api_key",
    "alldebrid": "debrid.alldebrid.api_key",
    "premiumize": "debrid.premiumize.api_key",
    "debridlink": "debrid.debridlink.api_key",
    "torbox": "torbox.api_key",
}


async def _refused_steps(settings: Settings) -> tuple[str, list[str], str | None]:
    """A magnet run to its end under ``settings`` (a wrong key): its code and every
    next step shown for it, and the page's line to type."""
    store = await Store.open(settings.database)
    try:
        added = await intake.add_source(store, MAGNET, settings=settings)
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 90)
        job = await store.get_job(added.id)
        summary = await report.report(store, job.id)
        status = await report.status(store)
        ran = await report.run_summary(store, 0.0)
    finally:
        await store.close()
    assert job.state is JobState.FAILED, job
    sources = default_sources()
    (shown,) = [j for j in status["jobs"] if j["id"] == job.id]
    (needs,) = [n for n in ran["needs"] if n["id"] == job.id]
    page = page_error(job, sources.describe(job.source))
    assert page is not None
    steps = [
        summary["error"]["next"],
        shown["error"]["next"],
        needs["next"],
        job_view(job, sources)["error"]["next"],
    ]
    return str(job.error_code), steps, page["line"]


@pytest.mark.parametrize("fake", KINDS, indirect=True)
async def test_a_refused_key_names_the_setting_of_the_service_that_refused_it(
    fake: FakeDebrid, settings: Settings
) -> None:
    code, steps, line = await _refused_steps(with_service(settings, fake, key="wrong"))
    setting = SETTING[fake.kind]
    assert code == "debrid.auth"
    for step in steps:
        assert f"`ferryman config set {setting} KEY`" in step, step
        assert "SERVICE" not in step and "SETTING" not in step, step
        others = [s for k, s in SETTING.items() if k != fake.kind]
        assert not any(other in step for other in others), step  # this service's only
    assert line == f"ferryman config set {setting} KEY"


async def test_torboxs_refused_key_names_torbox_api_key(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    wrong = tb_settings.model_copy(
        update={"torbox": TorboxSettings(api_key="wrong", api_base=torbox.base)}
    )
    code, steps, line = await _refused_steps(wrong)
    assert code == "torbox.auth"
    for step in steps:
        assert "`ferryman config set torbox.api_key KEY`" in step, step
    assert line == "ferryman config set torbox.api_key KEY"


def test_a_key_never_set_names_the_setting_to_set_and_alldebrids_agent_its_own() -> None:
    missing = FerrymanError("debrid.auth", "Premiumize has no key: set debrid.premiumize.api_key")
    assert "`ferryman config set debrid.premiumize.api_key KEY`" in missing.next_step
    agent = "AllDebrid says: AUTH_BAD_AGENT: The agent is not allowed"
    assert "`ferryman config set debrid.alldebrid.agent ferryman`" in step_of("debrid.auth", agent)
    # A message that names no service (none ferryman writes): every setting, as before.
    plain = next_step_for("debrid.auth", failed=True, message="refused")
    assert all(setting in plain for setting in list(SETTING.values())[:4])
    assert page_line("debrid.auth", "refused") == "ferryman config set SETTING KEY"
