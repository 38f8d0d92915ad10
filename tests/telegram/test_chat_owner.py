"""The chat as the page is: a chat user linked with ``/link`` to an ordinary account sees,
controls and reports only that person's jobs and watches, sends only to places of
theirs, changes only their own settings, and stays within their limits; an allow-listed
user linked to no account is still the machine's owner. Through the real Telethon
client against the fake Telegram, with a real engine and SQLite store."""

from __future__ import annotations

from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.sources.builtin import default_sources
from ferryman.store.accounts.sql import User
from ferryman.web.accounts.passwords import hash_password
from tests.support.telegram_helpers import log_in
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import World, photo_zip, reply_to, serving

FAR = 4102444800.0  # 2100: a watch that is never due while the test runs


async def _linked(world: World) -> tuple[User, User]:
    """``mal``, an ordinary account Mallory's chat is linked to, and ``zoe``, another."""
    mal = await world.store.add_user("mal", hash_password("mal's password"))
    zoe = await world.store.add_user("zoe", hash_password("zoe's password"))
    await world.store.update_user(mal.id, tg_user_id=world.mallory.id)
    return mal, zoe


async def _job(world: World, name: str, account: int | None, *, failed: bool = False) -> Job:
    """A job of ``account``'s reading a zip on this machine: ended failed (its file is
    missing), or waiting paused (the engine leaves it be)."""
    path = world.tmp / (f"missing-{name}.zip" if failed else f"{name}.zip")
    if not failed:
        photo_zip(world.tmp, f"{name}.zip")
    job = await world.store.add_job(
        source=default_sources().to_uri(str(path)),
        name=name,
        dest="library:",
        error=FerrymanError("source.not_found", "gone") if failed else None,
        account=account,
    )
    if not failed:
        job = await world.store.set_paused(job.id, True)
    return job


async def _answer_to(world: World, text: str, **file: object) -> str:
    """Mallory sends ``text`` (with a file), and the account's next answer."""
    before = len(world.said(world.mallory))
    world.send(world.mallory, text, **file)  # type: ignore[arg-type]

    async def answered() -> str | None:
        said = world.said(world.mallory)
        return said[before].text if len(said) > before else None

    return await eventually(answered, f"an answer to {text!r}")


async def test_a_linked_person_sees_and_acts_on_their_own_jobs_only(world: World) -> None:
    mal, zoe = await _linked(world)
    mine = await _job(world, "mals-trip", mal.id, failed=True)
    hers = await _job(world, "zoes-holiday", zoe.id)
    her_ended = await _job(world, "zoes-ended", zoe.id, failed=True)
    owners = await _job(world, "owners-ended", None, failed=True)  # the newest failed one
    async with serving(world):
        status = await reply_to(world, world.mallory, "/status")
        assert "mals-trip" in status
        assert not any(n in status for n in ("zoes-holiday", "zoes-ended", "owners-ended"))
        assert "zoes-holiday" not in await reply_to(world, world.mallory, "/queue")
        for command in (
            f"/report {hers.id}",
            f"/resume {hers.id}",
            f"/pause {hers.id}",
            f"/cancel {hers.id}",
            f"/retry {her_ended.id}",
            f"/retry {owners.id}",
            f"/pass {hers.id} s3cret",
        ):
            said = await reply_to(world, world.mallory, command)
            assert said.startswith("job.not_found"), (command, said)
        # Without a number, the newest of their own: not the owner's newer failed job.
        assert await reply_to(world, world.mallory, "/retry") == f"job {mine.id} queued again"
        assert "zoes-ended" in await reply_to(world, world.alice, "/status")  # the owner's
    kept = await world.store.get_job(hers.id)
    assert kept.paused and kept.state is JobState.QUEUED and kept.passwords == ()
    assert (await world.store.get_job(her_ended.id)).state is JobState.FAILED
    assert (await world.store.get_job(owners.id)).state is JobState.FAILED


async def test_a_linked_persons_watches_are_their_own(world: World) -> None:
    mal, zoe = await _linked(world)
    watches = {}
    for name, account in (("mals-folder", mal.id), ("zoes-private-folder", zoe.id)):
        watch = await world.store.add_watch(
            kind="folder",
            source=str(world.tmp / name),
            dest="library:",
            every_seconds=3600.0,
            since="now",
            next_check_at=FAR,
        )
        await world.store.set_watch_account(watch.id, account)
        watches[name] = watch.id
    async with serving(world):
        listed = await reply_to(world, world.mallory, "/watches")
        assert "mals-folder" in listed and "zoes-private-folder" not in listed
        said = await reply_to(world, world.mallory, f"/unwatch {watches['zoes-private-folder']}")
        assert said.startswith("watch.not_found"), said
        assert "zoes-private-folder" in await reply_to(world, world.alice, "/watches")
    assert [w.id for w in await world.store.list_watches()] == sorted(watches.values())


async def test_a_linked_person_sends_only_to_places_of_theirs_and_sets_only_their_own(
    world: World,
) -> None:
    await _linked(world)
    elsewhere = world.tmp / "server-folder"
    watched = world.tmp / "watched"
    watched.mkdir()
    zipped = photo_zip(world.tmp)
    async with serving(world):
        said = await _answer_to(world, f"https://example.com/a.zip to: library:{elsewhere}")
        assert "not taken" in said and "not your library folder" in said, said
        said = await _answer_to(
            world, f"to: library:{elsewhere}", file=zipped.read_bytes(), name="a.zip"
        )
        assert said.startswith("not taken"), said
        for command in (f"/settings to library:{elsewhere}", f"/watch {watched} to library:/x"):
            said = await reply_to(world, world.mallory, command)
            assert said.startswith("account.dest_forbidden"), (command, said)
        for command in (
            "/settings space_floor 1",
            "/settings caption_template {job_name}",
            "/settings album_size 3",
            "/cleanup yes",
        ):
            said = await reply_to(world, world.mallory, command)
            assert said.startswith("account.forbidden"), (command, said)
        shown = await reply_to(world, world.mallory, "/settings")
        assert "your settings" in shown and "for everyone" not in shown
        taken = await reply_to(world, world.mallory, "/settings to library:")
        assert taken.startswith("to = library:"), taken  # their own library: theirs
        owners = await reply_to(world, world.alice, "/settings album_size 3")
        assert owners.startswith("album_size = 3"), owners  # the machine's owner, as before
    assert await world.store.list_jobs() == []
    assert await world.store.list_watches() == []
    assert not elsewhere.exists()
    assert await world.store.runtime_settings() == {"album_size": 3}


async def test_a_linked_persons_chat_stays_within_their_limits(world: World) -> None:
    mal, _ = await _linked(world)
    await world.store.update_user(mal.id, settings={"limits": {"jobs": 1}})
    ended = await _job(world, "mals-ended", mal.id, failed=True)
    busy = await _job(world, "mals-waiting", mal.id)  # their one job at once
    zipped = photo_zip(world.tmp, "sent.zip")
    async with serving(world):
        said = await _answer_to(world, "https://example.com/more.zip")
        assert "account.limit_jobs" in said, said
        said = await _answer_to(world, "", file=zipped.read_bytes(), name="sent.zip")
        assert said.startswith("not taken") and "may have 1" in said, said
        said = await reply_to(world, world.mallory, f"/retry {ended.id}")
        assert said.startswith("account.limit_jobs"), said
    assert sorted(j.id for j in await world.store.list_jobs()) == sorted([ended.id, busy.id])
    assert (await world.store.get_job(ended.id)).state is JobState.FAILED


async def test_a_linked_person_reads_no_private_chat_of_the_servers_account(
    world: World,
) -> None:
    """A private channel or group (``t.me/c/ID``) is read as ferryman's own account, a
    member where the person need not be: neither a post of it nor a watch on it is
    theirs to ask (``account.source_forbidden``, before a login is looked for); the
    machine's own user's still are."""
    await _linked(world)
    await log_in(world.settings, world.server, world.bot)  # it reads t.me links
    async with serving(world):
        said = await _answer_to(world, "https://t.me/c/1234567/55")
        assert "account.source_forbidden" in said, said
        for command in ("/watch https://t.me/c/1234567", "/watch telegram:-1001234567"):
            said = await reply_to(world, world.mallory, command)
            assert said.startswith("account.source_forbidden"), (command, said)
        assert await world.store.list_jobs() == []
        assert await world.store.list_watches() == []
        world.send(world.alice, "https://t.me/c/1234567/55")
        (job,) = await eventually(world.store.list_jobs, "the machine's own user's job")
    assert (job.source, job.account) == ("tg:c/1234567/55", None)
