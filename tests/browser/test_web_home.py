"""Links into the home network, decided by who can reach the page: a loopback page
without tokens (this machine's user's own) fetches from this machine and the home
network; an exposed page (tokens) refuses them and says the one line that allows them;
cloud metadata is refused by both. `ferryman web` children on loopback, a real HTTP
server on 127.0.0.1 holding the file, and Chromium for the page's words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.errors import page_step
from ferryman.samples import make_photo_set
from ferryman.web import guard
from ferryman.web.guard import new_token
from tests.support.browser import (
    DESKTOP,
    NEEDS_CHROMIUM,
    launch_args,
    playwright_disabled_features,
)
from tests.support.httpserve import FaultServer, serving
from tests.support.webserve import WebServer, running_web

# As a person starts it: the tests' own environment allows private links, this does not.
HOME = {"FERRYMAN_WEB__ALLOW_PRIVATE_LINKS": "false"}
ALLOWING_LINE = "ferryman config set web.allow_private_links true"
METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture(scope="module")
def photo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """A photo on 127.0.0.1 (a NAS at home, or this machine)."""
    photo = make_photo_set(tmp_path_factory.mktemp("nas"), 1)[0]
    with serving() as site:
        site.add("/holiday.jpg", photo.read_bytes(), content_type="image/jpeg")
        yield site


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, str]]:
    """Tokens handed out: others may reach it."""
    token, hashed = new_token()
    data = tmp_path_factory.mktemp("exposed") / "data"
    with running_web(data, FERRYMAN_WEB__TOKENS=json.dumps([hashed]), **HOME) as web:
        yield web, token


def test_the_policy_follows_who_can_reach_the_page() -> None:
    hashed = new_token()[1]
    assert not guard.private_links_refused("127.0.0.1", [], allowed=False)
    assert not guard.private_links_refused("localhost", [], allowed=False)
    assert not guard.private_links_refused("::1", [], allowed=False)
    assert guard.private_links_refused("127.0.0.1", [hashed], allowed=False)
    assert guard.private_links_refused("0.0.0.0", [hashed], allowed=False)
    assert not guard.private_links_refused("0.0.0.0", [hashed], allowed=True)


def test_a_loopback_page_without_tokens_fetches_a_link_on_this_machine(
    tmp_path: Path, photo_site: FaultServer
) -> None:
    with running_web(tmp_path / "data", **HOME) as web, web.client() as client:
        answer = client.post("/api/v1/jobs", json={"source": photo_site.url("/holiday.jpg")})
        assert answer.status_code == 202, answer.text
        view = web.wait_for(answer.json()["id"], ("done", "failed"))
        assert view["status"] == "done", view
        assert [f["name"] for f in view["result"]["files"]] == ["holiday.jpg"]
        assert photo_site.served["/holiday.jpg"] > 0
        # Cloud metadata stays refused on the user's own page.
        refused = client.post("/api/v1/jobs", json={"source": METADATA})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "link.blocked"
        assert "cloud metadata" in refused.json()["error"]["message"]
        assert len(client.get("/api/v1/jobs").json()["jobs"]) == 1


def test_an_exposed_page_refuses_it_saying_the_line_that_allows_it(
    exposed: tuple[WebServer, str], photo_site: FaultServer
) -> None:
    web, token = exposed
    with web.client(headers={"Authorization": f"Bearer {token}"}) as client:
        for link in (photo_site.url("/holiday.jpg"), "http://[::1]/a.zip", METADATA):
            answer = client.post("/api/v1/jobs", json={"source": link})
            assert answer.status_code == 403, (link, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "link.blocked"
            assert ALLOWING_LINE in error["next"], error
            assert "network.private_allowed" in error["next"], error  # or only that host
            assert "then restart the server" in error["next"], error  # a restart is needed
        assert client.get("/api/v1/jobs").json()["jobs"] == []


def test_the_pages_next_step_for_a_refused_link_names_the_setting() -> None:
    """The CLI's step was split at ';' and lost the half naming the setting."""
    step = page_step("link.blocked")
    assert ALLOWING_LINE in step and "network.private_allowed" in step and "restart" in step


@NEEDS_CHROMIUM
def test_the_page_shows_the_refusals_next_step_whole(
    exposed: tuple[WebServer, str], photo_site: FaultServer, browser: Any
) -> None:
    web, token = exposed
    link = photo_site.url("/holiday.jpg")
    context = browser.new_context(viewport=DESKTOP)
    try:
        page: Any = context.new_page()
        page.goto(web.base)
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("textbox", name="Link").fill(link)
        page.get_by_role("button", name="Start").click()
        said = page.locator("#form-error")
        said.get_by_text(ALLOWING_LINE).wait_for(timeout=30_000)
        shown = said.inner_text()
        assert page_step("link.blocked") in shown, shown
        assert "inside a private or local network" in shown, shown
    finally:
        context.close()


@NEEDS_CHROMIUM
def test_a_form_pressed_before_the_script_has_it_sends_nothing_in_the_address(
    exposed: tuple[WebServer, str], photo_site: FaultServer, browser: Any
) -> None:
    """A slow phone shows the form before its script runs: Log in or Start pressed then
    was the browser's own GET, the token or the link in the address (and the server's
    log), and the page came back blank. CI's loaded machine did just that."""
    web, token = exposed
    link = photo_site.url("/holiday.jpg")
    held: list[Any] = []
    asked: list[str] = []
    context = browser.new_context(viewport=DESKTOP)
    try:
        page: Any = context.new_page()
        page.on("request", lambda request: asked.append(request.url))
        page.route("**/static/app.js", lambda route: held.append(route))
        page.goto(web.base, wait_until="commit")
        press_early(page, page.get_by_label("Token"), token, "Log in", held)
        held.clear()  # the reload after logging in asks for the script again
        page.get_by_role("button", name="Log in").click()  # waits until enabled
        link_box = page.get_by_role("textbox", name="Link")
        press_early(page, link_box, link, "Start", held)
        page.get_by_role("button", name="Start").click()
        said = page.locator("#form-error")
        said.get_by_text(ALLOWING_LINE).wait_for(timeout=30_000)
        assert not [url for url in asked if token in url or "holiday" in url]
    finally:
        context.close()


def press_early(page: Any, box: Any, typed: str, press: str, held: list[Any]) -> None:
    """Type and press Enter while the page's script is held back, then let it come."""
    box.fill(typed)
    assert page.get_by_role("button", name=press).is_disabled(), press
    box.press("Enter")  # the browser's own submit, were the button enabled
    page.wait_for_function("() => document.readyState === 'interactive'")
    assert held, press  # the script is still on its way
    held[0].continue_()


@NEEDS_CHROMIUM
def test_a_context_is_its_page_alone_with_playwrights_own_features_still_off(
    browser: Any,
) -> None:
    """The browser every page test drives (``tests/support/browser.launch_args``): a
    context's window makes none of the address bar's popups (each a WebUI renderer of
    its own, ~0.9 CPU-s a context with the spare renderer), and the features Playwright
    turns off stay off, its list read from its driver (Chromium keeps only the last
    ``--disable-features``)."""
    assert playwright_disabled_features(), "Playwright's own list is carried"
    assert launch_args()[-1].startswith("--disable-features=" + playwright_disabled_features()[0])
    context = browser.new_context(viewport=DESKTOP)
    cdp = browser.new_browser_cdp_session()
    try:
        page = context.new_page()
        page.goto("data:text/html,<title>alone</title><p>a page</p>")
        page.wait_for_timeout(500)  # the popups came with the window, before this
        urls = [t["url"] for t in cdp.send("Target.getTargets")["targetInfos"]]
    finally:
        cdp.detach()
        context.close()
    assert [u for u in urls if u.startswith("chrome://")] == [], urls
    assert any(u.startswith("data:text/html,<title>alone") for u in urls), urls
