"""The tests' `ferryman web` runs its engine with the store's poll as shipped, not every
0.05 s (``web_env`` in tests/support/webserve.py): what a web test waits on wakes the
engine in its own process, so a job added through the API is taken, delivered and ended
at once, never at the next poll. Here the poll is an hour: the job still ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.samples import make_photo_set, make_zip
from tests.support.httpserve import serving
from tests.support.webserve import running_web, web_env


def test_the_tests_web_polls_the_store_as_shipped(tmp_path: Path) -> None:
    shipped = Settings.model_fields["poll_seconds"].default
    assert float(web_env(tmp_path)["FERRYMAN_POLL_SECONDS"]) == shipped
    assert web_env(tmp_path, FERRYMAN_POLL_SECONDS="0.05")["FERRYMAN_POLL_SECONDS"] == "0.05"


@pytest.mark.slow
def test_a_job_added_through_the_api_ends_without_waiting_for_the_poll(tmp_path: Path) -> None:
    photos = make_photo_set(tmp_path / "p", 3)
    archive = make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])
    with serving() as links:
        links.add("/a.zip", archive.read_bytes(), content_type="application/zip")
        with running_web(tmp_path / "data", FERRYMAN_POLL_SECONDS="3600") as web:
            with web.client() as client:
                made = client.post("/api/v1/jobs", json={"source": links.url("/a.zip")})
                assert made.status_code == 202, made.text
            view = web.wait_for(made.json()["id"], ("done", "failed"), within=120)
    assert view["status"] == "done", view
