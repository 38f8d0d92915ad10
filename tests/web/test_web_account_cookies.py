"""Each person's own cookies.txt, through `ferryman web` as run (a child process with
its engine) and a loopback site that records the cookies each request brought: a
person's link jobs send their own cookies and never another's or the server's; the API
shows each person only theirs; an administrator's are the server's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import forked
from tests.support.httpserve import FaultServer, serving
from tests.support.mediaserve import MediaSite
from tests.support.once import built_once
from tests.support.webserve import WebServer, running_web, web_env

pytestmark = pytest.mark.slow

CLIP = "/clip.mp4"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)


@pytest.fixture
def links(site: MediaSite) -> Iterator[FaultServer]:
    with serving() as started:
        yield site.serve(started)


def _jar(value: str) -> bytes:
    return f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t{value}\n".encode()


def _add_user(data: Path, name: str, *flags: str) -> None:
    done = forked.run(
        ["user", "add", name, *flags],
        env=web_env(data, FERRYMAN_PASSWORD=f"pw-{name}-long"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def _signed_in(web: WebServer, name: str) -> Iterator[httpx.Client]:
    with web.client(headers={"x-ferryman-csrf": "1"}) as client:
        answer = client.post(
            "/api/v1/session/password", json={"name": name, "password": f"pw-{name}-long"}
        )
        assert answer.status_code == 204, answer.text
        yield client


def test_a_persons_link_jobs_send_only_their_own_cookies(
    tmp_path: Path, links: FaultServer
) -> None:
    data = tmp_path / "data"
    _add_user(data, "root", "--admin")
    _add_user(data, "ann")
    _add_user(data, "bob")
    asked = {"source": links.url(CLIP), "output": {"kind": "audio", "format": "m4a"}}

    def sent_since(before: int) -> list[str]:
        return [r.headers.get("Cookie", "") for r in links.requests_for(CLIP)][before:]

    with (
        running_web(data) as web,
        _signed_in(web, "root") as root,
        _signed_in(web, "ann") as ann,
        _signed_in(web, "bob") as bob,
    ):
        assert root.put("/api/v1/cookies", content=_jar("server-secret")).status_code == 200
        mine = ann.put("/api/v1/cookies", content=_jar("ann-secret"))
        assert mine.status_code == 200 and mine.json()["sites"] == ["127.0.0.1"], mine.text
        # Each sees only theirs: bob has none, the server's one is root's.
        assert bob.get("/api/v1/cookies").json()["kept"] is False
        assert ann.get("/api/v1/cookies").json()["count"] == 1
        assert root.get("/api/v1/cookies").json()["kept"] is True
        assert bob.delete("/api/v1/cookies").status_code == 204  # his own: none to remove
        assert ann.get("/api/v1/cookies").json()["kept"] is True

        made = bob.post("/api/v1/jobs", json=asked).json()
        view = web.wait_for(
            made["id"], ("done", "failed"), headers=bob.headers, cookies=bob.cookies
        )
        assert view["status"] == "done", view
        his = sent_since(0)
        assert his and not any("secret" in c for c in his), his

        made = ann.post("/api/v1/jobs", json=asked).json()
        view = web.wait_for(
            made["id"], ("done", "failed"), headers=ann.headers, cookies=ann.cookies
        )
        assert view["status"] == "done", view
        hers = sent_since(len(his))
        assert hers and all("sid=ann-secret" in c for c in hers), hers

        made = root.post("/api/v1/jobs", json={**asked, "force": True}).json()
        view = web.wait_for(
            made["id"], ("done", "failed"), headers=root.headers, cookies=root.cookies
        )
        assert view["status"] == "done", view
        served = sent_since(len(his) + len(hers))
        assert served and all("sid=server-secret" in c for c in served), served
    assert (data / "cookies" / "cookies.txt").is_file()
