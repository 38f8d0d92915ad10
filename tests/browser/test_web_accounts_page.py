"""Accounts in a real browser (Playwright, Debian's Chromium) against `ferryman web`:
people made with `ferryman user add`; two signed in at once, each in a context of their
own, see only their own jobs on the page and in its live events, and are refused the
other's through the API, the events and the download links by every number tried; an
administrator sees both; a limit is refused with its code; a passkey added and signed in
with through Chromium's virtual authenticator (CDP WebAuthn)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support import forked
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM
from tests.support.httpserve import serving
from tests.support.webserve import running_web, web_env

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

WAIT = 60_000  # ms: a loaded machine is slow
PASSWORDS = {"root": "root-password", "ann": "ann-password", "bob": "bob-password"}


def _add_people(data: Path) -> None:
    for name, password in PASSWORDS.items():
        command = ["user", "add", name, "--password", password]
        if name == "root":
            command.append("--admin")
        done = forked.run(command, env=web_env(data), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def _signed_in(browser: Any, base: str, name: str) -> Any:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(base)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#account-who")).to_have_text(
        f"Signed in as {name}" + (" (administrator)" if name == "root" else ""), timeout=WAIT
    )
    return page


def _fetch(page: Any, method: str, path: str) -> dict[str, Any]:
    """``path`` asked from the page's own script (its cookie, its CSRF header)."""
    answer: dict[str, Any] = page.evaluate(
        """async ([method, path]) => {
            const r = await fetch(path, {method, headers: {"X-Ferryman-CSRF": "1"}});
            return {status: r.status, body: await r.json().catch(() => null)};
        }""",
        [method, path],
    )
    return answer


def _photo(colour: tuple[int, int, int]) -> bytes:
    """A real JPEG: a link job to it delivers one photo, with a download link."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def _other_job(link: str, job_id: int) -> str:
    """``link`` with another job's number in its payload, its signature kept."""
    payload, _, signature = link.removeprefix("/d/").partition(".")
    granted = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    granted[0] = job_id
    changed = base64.urlsafe_b64encode(json.dumps(granted, separators=(",", ":")).encode())
    return f"/d/{changed.decode().rstrip('=')}.{signature}"


def _start(page: Any, link: str) -> int:
    page.locator("#link").fill(link)
    page.get_by_role("button", name="Start").click()
    card = page.locator("#jobs li[data-job]").filter(has_text=link.rsplit("/", 1)[-1])
    expect(card).to_have_count(1, timeout=WAIT)
    return int(card.get_attribute("data-job"))


def test_two_people_at_once_see_only_their_own_and_an_administrator_both(
    tmp_path: Path, browser: Any
) -> None:
    data = tmp_path / "data"
    _add_people(data)
    with serving() as files, running_web(data) as web:
        files.add("/ann.jpg", _photo((200, 40, 40)))
        files.add("/bob.jpg", _photo((40, 40, 200)))
        ann = _signed_in(browser, web.base, "ann")
        bob = _signed_in(browser, web.base, "bob")
        hers = _start(ann, files.url("/ann.jpg"))
        his = _start(bob, files.url("/bob.jpg"))
        for page, mine in ((ann, hers), (bob, his)):
            done = page.locator(f'#jobs li[data-job="{mine}"] a[href^="/d/"]').first
            expect(done).to_be_visible(timeout=WAIT)
        # The page and its live events: each list holds its own job only.
        expect(ann.locator("#jobs li[data-job]")).to_have_count(1)
        expect(bob.locator("#jobs li[data-job]")).to_have_count(1)
        expect(bob.locator(f'#jobs li[data-job="{hers}"]')).to_have_count(0)
        bob.reload()  # the list as the server renders it: his own only
        expect(bob.locator(f'#jobs li[data-job="{his}"]')).to_have_count(1, timeout=WAIT)
        expect(bob.locator("#jobs li[data-job]")).to_have_count(1)
        her_link = ann.locator(f'#jobs li[data-job="{hers}"] a[href^="/d/"]').first.get_attribute(
            "href"
        )
        # Bob tries Ann's job by its number through every door the API has.
        for method, path in (
            ("GET", f"/api/v1/jobs/{hers}"),
            ("POST", f"/api/v1/jobs/{hers}/cancel"),
            ("POST", f"/api/v1/jobs/{hers}/retry"),
            ("GET", f"/api/v1/jobs/{hers}/files"),
            ("POST", f"/api/v1/jobs/{hers}/links"),
            ("DELETE", f"/api/v1/jobs/{hers}"),
        ):
            answer = _fetch(bob, method, path)
            assert answer["status"] == 404, (method, path, answer)
            assert answer["body"]["error"]["code"] == "job.not_found"
        events = _fetch(bob, "GET", f"/api/v1/events/poll?jobs={hers}&after=0")
        assert events["status"] == 200
        told = [m for m in events["body"]["messages"] if m.get("jobs") or m.get("job")]
        assert all(not m.get("jobs") and m.get("job", {}).get("id") != hers for m in told), told
        # A link is the job's own: another job's number in it breaks its signature.
        forged = bob.evaluate(
            "async (path) => (await fetch(path)).status", _other_job(her_link, his)
        )
        assert forged == 403
        # The administrator sees both, and who signed in from where.
        root = _signed_in(browser, web.base, "root")
        expect(root.locator(f'#jobs li[data-job="{hers}"]')).to_have_count(1, timeout=WAIT)
        expect(root.locator(f'#jobs li[data-job="{his}"]')).to_have_count(1, timeout=WAIT)
        expect(root.locator("#people li[data-user]")).to_have_count(3, timeout=WAIT)
        # Ann's own library folder, given on the People list.
        folder = tmp_path / "ann-library"
        root.once("dialog", lambda dialog: dialog.accept(str(folder)))
        root.locator("#library-ann").click()
        expect(root.locator('#people li[data-user="ann"]')).to_contain_text(
            f"library: {folder}", timeout=WAIT
        )
        people = _fetch(root, "GET", "/api/v1/users")["body"]["users"]
        assert {u["name"]: u["settings"].get("library") for u in people}["ann"] == str(folder)
        expect(root.locator("#audit")).to_contain_text("sign_in")
        expect(bob.locator("#people")).to_have_count(0)
        # A limit, refused with its code and its next step.
        limited = root.evaluate(
            """async () => (await fetch("/api/v1/users/bob/settings", {method: "PUT",
                headers: {"X-Ferryman-CSRF": "1", "Content-Type": "application/json"},
                body: JSON.stringify({limits: {results_kept: 1}})})).status"""
        )
        assert limited == 200
        bob.locator("#link").fill(files.url("/bob.jpg") + "?again")
        bob.get_by_role("button", name="Start").click()
        expect(bob.locator("#form-error")).to_contain_text("ended jobs kept", timeout=WAIT)
        refused = bob.evaluate(
            """async (link) => {
                const r = await fetch("/api/v1/jobs", {method: "POST",
                  headers: {"X-Ferryman-CSRF": "1", "Content-Type": "application/json"},
                  body: JSON.stringify({source: link, deliver: {to: "link"}})});
                return [r.status, (await r.json()).error.code];
            }""",
            files.url("/bob.jpg") + "?third",
        )
        assert refused == [409, "account.limit_results"]
        for page in (ann, bob, root):  # the module's browser goes on to the next test
            page.context.close()


def test_a_passkey_is_added_then_signs_in_through_the_virtual_authenticator(
    tmp_path: Path, browser: Any
) -> None:
    data = tmp_path / "data"
    _add_people(data)
    with running_web(data) as web:
        # A passkey's relying party is a name, never an IP address: the page as localhost.
        base = web.base.replace("127.0.0.1", "localhost")
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        page.goto(base)
        page.get_by_label("Name").fill("ann")
        page.get_by_label("Password").fill(PASSWORDS["ann"])
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.locator("#account-who")).to_have_text("Signed in as ann", timeout=WAIT)
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.locator("#account-said")).to_contain_text("Passkey added", timeout=WAIT)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible(
            timeout=WAIT
        )
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.locator("#account-who")).to_have_text("Signed in as ann", timeout=WAIT)
        me = _fetch(page, "GET", "/api/v1/me")
        assert me["body"]["name"] == "ann"
        audit = (page.context.request.get(f"{base}/api/v1/audit")).status
        assert audit == 403  # ann is no administrator
        context.close()
