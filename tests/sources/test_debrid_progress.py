"""A torrent a debrid service is still downloading: the job's wait message carries the
share the service says is done, so `ferryman status`, `report` and `run` show it move
(it said only "downloading", the same at every recheck), against the fakes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ferryman.config import Settings, TorboxSettings
from ferryman.sources.debrid.base import api_client
from ferryman.sources.debrid.services import make_service
from ferryman.sources.torbox import RateLimit
from tests.sources.test_debrid_source import HASH, MAGNET, with_service
from tests.support.fakedebrid import Torrent, debrid_serving
from tests.support.faketorbox import API_KEY, torbox_serving
from tests.support.faketorbox import Torrent as TorboxTorrent
from tests.support.httpserve import FaultServer, serving

FILES = [("T/a.jpg", b"\xff\xd8\xff" + b"1" * 40, "image/jpeg")]


@pytest.fixture
def cdn() -> Iterator[FaultServer]:
    with serving() as server:
        yield server


def _first_status(client: httpx.Client, settings: Settings, kind: str) -> str:
    limit = RateLimit(60, lambda: 0.0, lambda _: None)
    service = make_service(kind, client, settings, limit, settings.retry)
    found = service.status(service.add_magnet(MAGNET))
    assert not found.ready and found.failed is None
    return found.state


@pytest.mark.parametrize(
    ("kind", "said"), [("realdebrid", "downloading, 10 %"), ("premiumize", "running, 30 %")]
)
def test_a_downloading_torrent_says_the_share_the_service_has(
    cdn: FaultServer, settings: Settings, kind: str, said: str
) -> None:
    with debrid_serving(kind, cdn) as fake:
        fake.swarm[HASH] = Torrent("T", FILES, polls=5)
        ours = with_service(settings, fake)
        with api_client(ours.network, ours, kind) as client:
            assert _first_status(client, ours, kind) == said


def test_a_torrent_torbox_downloads_says_its_share(cdn: FaultServer, settings: Settings) -> None:
    with torbox_serving(cdn) as fake:
        fake.swarm[HASH] = TorboxTorrent("T", FILES, cached=False)
        ours = settings.model_copy(
            update={"torbox": TorboxSettings(api_key=API_KEY, api_base=fake.base)}
        )
        with api_client(ours.network, ours, "torbox") as client:
            assert _first_status(client, ours, "torbox") == "downloading, 40 %"
