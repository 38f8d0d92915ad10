"""`--to link:` from the CLI leads somewhere: the run and the report name `ferryman links
JOB`, which prints each file's link signed afresh; the links work against a real
`ferryman web`, and an expired one is replaced by asking again."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo
from tests.support.waiting import eventually_sync
from tests.support.webserve import running_web

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "COLUMNS": "80",
}


def cli(data: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env={**ENV, **env})


@pytest.fixture
def delivered(tmp_path: Path) -> tuple[Path, Path]:
    """A data dir whose job 1 delivered a photo to link:, and the photo."""
    data = tmp_path / "data"
    photo = make_photo(tmp_path / "trip.jpg", 3)
    ran = cli(data, "add", "--run", "--to", "link:", str(photo))
    assert ran.exit_code == 0, ran.output
    assert "job 1 trip: download links: `ferryman links 1`" in ran.stdout, ran.stdout
    assert "job 1 trip: 1 file, links valid until" in ran.stdout  # and the links themselves
    assert "  trip.jpg (" in ran.stdout and "/d/" in ran.stdout
    told = cli(data, "report", "1")
    assert "download links: `ferryman links 1`" in told.stdout
    return data, photo


def test_links_are_printed_with_where_they_are_served(delivered: tuple[Path, Path]) -> None:
    data, photo = delivered
    shown = cli(data, "links", "1", FERRYMAN_WEB__PORT="1")  # nothing listens on port 1
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("job 1 trip: 1 file, links valid until ")
    assert lines[1].startswith(
        f"  trip.jpg ({photo.stat().st_size:,} bytes): http://127.0.0.1:1/d/"
    )
    assert lines[2].startswith("  all as one zip: http://127.0.0.1:1/d/")
    assert "(not running there now: start it with `ferryman web`;" in lines[3], lines
    # `ferryman web --port 9000` answers elsewhere: the links match it once web.port does
    assert "--port or --host serves elsewhere: `ferryman config set web.port PORT`" in lines[3]
    assert "web.public_url" in lines[3]


def test_a_job_to_the_library_has_no_links(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "add", str(make_photo(tmp_path / "a.jpg", 1))).exit_code == 0
    refused = cli(data, "links", "1")
    assert refused.exit_code == 1  # job.no_links: refused
    assert "job.no_links" in refused.stderr and "library:" in refused.stderr


def _get(web: Any, url: str) -> Any:
    with web.client() as client:
        return client.get(url)


@pytest.mark.slow
def test_the_links_download_and_are_signed_again_on_demand(
    delivered: tuple[Path, Path],
) -> None:
    data, photo = delivered
    with running_web(data) as web:
        base = {"FERRYMAN_WEB__PUBLIC_URL": web.base}
        made = json.loads(cli(data, "links", "1", "--json", **base).stdout)
        assert made["served_by"] == web.base and made["serving"] is True
        (file,) = made["files"]
        got = _get(web, file["url"])
        assert got.status_code == 200 and got.content == photo.read_bytes()
        with zipfile.ZipFile(io.BytesIO(_get(web, made["zip"]).content)) as whole:
            assert whole.namelist() == ["trip.jpg"]
        ttl = {"FERRYMAN_WEB__LINK_TTL": "1"}
        short = json.loads(cli(data, "links", "1", "--json", **ttl, **base).stdout)
        expired = short["files"][0]["url"]
        eventually_sync(lambda: _get(web, expired).status_code == 410, "the link expired")
        again = json.loads(cli(data, "links", "1", "--json", **base).stdout)
        assert _get(web, again["files"][0]["url"]).content == photo.read_bytes()


def test_a_results_folder_that_cannot_work_is_refused_at_add(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo = make_photo(tmp_path / "a.jpg", 1)
    refused = cli(data, "add", "--to", "link:", str(photo), FERRYMAN_RESULTS__DIR="/proc/x")
    assert refused.exit_code == 1
    assert "error sink.unwritable: cannot write to /proc/x" in refused.stderr
    assert "results.dir" in refused.stderr
    assert cli(data, "status", "--json").stdout.count('"id"') == 0  # nothing recorded
