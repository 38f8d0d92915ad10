"""The same person in the chat and on the page: a page account's one-time code sent to
the bot as ``/link CODE`` (through the real Telethon client against the fake Telegram)
links that Telegram account, which the accounts then allow although it is on no
allow-list, and what it sends becomes a job of that account, in that person's list on
the page (the API, signed in as them) and in no one else's."""

from __future__ import annotations

import hashlib

import httpx

from ferryman.engine.plumbing.events import EventBus
from ferryman.model import JobState
from ferryman.web.accounts.passwords import hash_password
from ferryman.web.server import web_app
from tests.support.engine_helpers import library_files
from tests.support.httpserve import serving as http_serving
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import World, photo_zip, reply_to, serving


async def test_a_linked_telegram_accounts_chat_job_is_in_that_persons_list(
    world: World,
) -> None:
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    other = await world.store.add_user("zoe", hash_password("zoe's password"))
    code = "0a1b2c3d4e5f"
    hashed = "sha256:" + hashlib.sha256(code.encode()).hexdigest()
    await world.store.add_link_code(mal.id, hashed, world.store.clock() + 600)
    zipped = photo_zip(world.tmp)
    with http_serving() as files:
        files.add("/trip.zip", zipped.read_bytes(), content_type="application/zip")
        async with serving(world):
            wrong = await reply_to(world, world.mallory, "/link ffffffffffff")
            assert wrong.startswith("account.link_code")
            said = await reply_to(world, world.mallory, f"/link {code}")
            assert said.startswith("linked to mal")
            linked = await world.store.user_of_telegram(world.mallory.id)
            assert linked is not None and linked.id == mal.id
            assert (await reply_to(world, world.mallory, f"/link {code}")).startswith(
                "account.link_code"  # used once
            )
            world.send(world.mallory, files.url("/trip.zip"))

            async def made() -> object:
                jobs = await world.store.list_jobs()
                return jobs[0] if jobs and jobs[0].state is JobState.DONE else None

            job = await eventually(made, "the chat's job done")
    assert job.account == mal.id  # type: ignore[attr-defined]
    async with web_app(world.settings, world.store, EventBus(), lambda: True) as served:
        seen = {}
        for name, password in (("mal", "mal's password"), ("zoe", "zoe's password")):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
            ) as page:
                signed = await page.post(
                    "/api/v1/session/password", json={"name": name, "password": password}
                )
                assert signed.status_code == 204, signed.text
                listed = (await page.get("/api/v1/jobs")).json()["jobs"]
                seen[name] = [j["id"] for j in listed]
    assert seen == {"mal": [job.id], "zoe": []}  # type: ignore[attr-defined]
    assert other.id != mal.id


async def test_a_linked_persons_library_jobs_go_to_their_own_folder(world: World) -> None:
    """Given their own library folder (``ferryman user set NAME --library DIR``), a
    linked person's chat job to the library lands there, not in the server's."""
    folder = world.tmp / "mal-library"
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    await world.store.update_user(
        mal.id, tg_user_id=world.mallory.id, settings={"library": str(folder)}
    )
    zipped = photo_zip(world.tmp)
    with http_serving() as files:
        files.add("/trip.zip", zipped.read_bytes(), content_type="application/zip")
        async with serving(world):
            world.send(world.mallory, files.url("/trip.zip"))

            async def made() -> object:
                jobs = await world.store.list_jobs()
                return jobs[0] if jobs and jobs[0].state is JobState.DONE else None

            job = await eventually(made, "the chat's job done")
    assert job.dest == f"library:{folder}"  # type: ignore[attr-defined]
    assert library_files(folder) and not library_files(world.settings.library)
