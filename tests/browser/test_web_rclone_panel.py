"""The page's "rclone remotes" panel (issue 81, item 1), in Debian's Chromium against
`ferryman web` and ``rclone serve webdav`` on loopback: a pasted rclone.conf that would
reach the server is refused with its reason and a next step; a file given is kept and
listed as its remotes (never a secret), each asked whether it answers; removed.
Screenshots of the panel go to $FERRYMAN_SCREENSHOTS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.net.rclone import rclone_binary
from tests.support.browser import NEEDS_CHROMIUM, PHONE
from tests.support.rclone_serve import serve
from tests.support.webserve import WebServer, running_web

BINARY = rclone_binary()
pytestmark = [
    pytest.mark.slow,
    NEEDS_CHROMIUM,
    pytest.mark.skipif(BINARY is None, reason="rclone is not installed here"),
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/rclone-panel-shots"))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("rclone-panel") / "data"
    with running_web(data, FERRYMAN_NETWORK__PRIVATE_ALLOWED='["127.0.0.1"]') as server:
        yield server


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#rclone-panel").screenshot(path=str(SHOTS / f"{name}.png"))


def test_an_rclone_conf_is_refused_kept_listed_checked_and_removed(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    assert BINARY is not None
    with serve(BINARY, "webdav", tmp_path / "dav", "photos") as conf:
        secret = conf.split("pass = ")[1].split()[0]
        good = tmp_path / "rclone.conf"
        good.write_text(conf)
        page.goto(web.base)
        panel = page.locator("#rclone-panel")
        panel.get_by_text("rclone remotes").click()
        state = panel.get_by_role("status")
        expect(state).to_contain_text("None kept")
        expect(panel.get_by_role("button", name="Remove")).to_be_hidden()

        panel.get_by_label("rclone.conf's text").fill("[etc]\ntype = alias\nremote = /etc\n")
        panel.get_by_role("button", name="Keep pasted").click()
        alert = panel.get_by_role("alert")
        expect(alert).to_contain_text("[etc]")
        expect(alert).to_contain_text("remove that remote or option")
        _shot(page, "rclone-refused")

        panel.get_by_label("rclone.conf", exact=True).set_input_files(str(good))
        expect(state).to_contain_text("Kept: 1 remote")
        line = panel.locator("li[data-remote=photos]")
        expect(line).to_contain_text("webdav")
        expect(line).to_contain_text("pass kept, not shown")
        expect(panel.locator("#rclone-error")).to_be_empty()
        assert secret not in page.content()
        panel.get_by_role("button", name="Check remotes").click()
        expect(line.locator(".ok")).to_have_text("answers", timeout=30_000)
        _shot(page, "rclone-kept")
        page.set_viewport_size(PHONE)
        _shot(page, "rclone-kept-390")

        kept = web.data / "rclone" / "rclone.conf"  # the open page is an administrator's
        assert secret in kept.read_text()
        panel.get_by_role("button", name="Remove").click()
        expect(state).to_contain_text("None kept")
        assert not kept.exists()
