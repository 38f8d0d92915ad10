"""``link:telegram``: a job's files kept in Telegram, its download links read from there.

The real CLI adds the job (``add --to link:telegram``); the whole engine sends its files
as documents to the own account's Saved Messages (the real Telethon against the fake);
``ferryman links JOB`` and ``ferryman web``'s app (over ASGI) then serve each link from
Telegram, whole and by ranges, its bytes the delivered file's. Nothing of the job's bytes
is left on this machine. The links are the same signed, expiring, bound ones as a
result's: refused once revoked, refused bound to another person, and another person
gets none of the job's. A bot alone has no Saved Messages: refused when added, with a
step; a channel set in ``telegram.link_chat`` takes the files then.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from faketg.client import FakeDialer
from ferryman.engine.ops import intake
from ferryman.engine.ops.who import of_user, own_dest
from ferryman.engine.plumbing.events import EventBus
from ferryman.engine.read.prepare import cut_bytes
from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.telegram.user_settings import CHOICES
from ferryman.model import ItemState, JobState, window_of
from ferryman.resources import Shared
from ferryman.samples import make_zip
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.telegram_files import telegram_files
from ferryman.web.accounts.passwords import hash_password
from ferryman.web.server import web_app
from tests.support.clock import ManualClock
from tests.support.telegram_helpers import media_kind
from tests.support.telegram_pool import log_in_as
from tests.telegram.test_telegram_pool import Pool
from tests.telegram.test_telegram_sink import sha
from tests.telegram.test_telegram_stream_links import MIB, pdf

API = "/api/v1"
CSRF = {"x-ferryman-csrf": "1"}
SIZE = 2 * MIB + 54_321  # three blocks, the last one short


def cli_env(w: Pool, tmp_path: Path) -> dict[str, str]:
    """The CLI's configuration: the pool's data dir and app keys, a file of its own."""
    config = tmp_path / "ferryman.toml"
    config.write_text(
        f'data_dir = "{w.settings.data_dir}"\n[telegram]\napi_id = 1\napi_hash = "fakehash"\n'
    )
    return {"FERRYMAN_CONFIG": str(config), "COLUMNS": "200"}


def inputs(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A zip of a PDF (three blocks) and a photo, and each file's bytes by name."""
    folder = tmp_path / "in"
    folder.mkdir()
    report = pdf(folder / "report.pdf", SIZE)
    Image.new("RGB", (320, 240), (200, 90, 40)).save(folder / "p.jpg", quality=90)
    entries = [("report.pdf", folder / "report.pdf"), ("p.jpg", folder / "p.jpg")]
    archive = make_zip(tmp_path / "in.zip", entries)
    return archive, {"report.pdf": report, "p.jpg": (folder / "p.jpg").read_bytes()}


def held_bytes(root: Path, wanted: dict[str, bytes]) -> list[Path]:
    """Files under ``root`` holding one of ``wanted``'s contents (by size, then bytes)."""
    if not root.exists():
        return []
    sizes = {len(v) for v in wanted.values()}
    data = set(wanted.values())
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path.stat().st_size in sizes and path.read_bytes() in data
    ]


async def test_add_to_link_telegram_keeps_files_in_telegram_and_links_read_them(
    tmp_path: Path,
) -> None:
    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    archive, sources = inputs(tmp_path)
    env = cli_env(w, tmp_path)
    runner = CliRunner()
    added = runner.invoke(app, ["add", str(archive), "--to", "link:telegram"], env=env)
    assert added.exit_code == 0, added.output
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        [job] = await store.list_jobs()
        assert job.dest == "link:telegram"
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        items = await store.job_items(job.id)
        assert {it.state for it in items} == {ItemState.DELIVERED}
        saved = [m for m in w.server.chat(w.me) if m.media is not None]
        # Each file once, as a document (a photo's bytes kept, not recompressed).
        assert sorted(m.media.file.name for m in saved) == ["p.jpg", "report.pdf"]
        assert {media_kind(m) for m in saved} == {"document"}
        assert {m.media.file.sha256 for m in saved} == {sha(v) for v in sources.values()}
        kept = await telegram_files(store.sink_state("telegram"), job.id)
        assert sorted(f.name for f in kept) == ["p.jpg", "report.pdf"]
        assert not any(f.channel for f in kept)  # Saved Messages: its sender reads it
        # Nothing of the job's bytes on this machine: no results folder, no work area.
        for path in (tmp_path / "in" / "report.pdf", tmp_path / "in" / "p.jpg", archive):
            path.unlink()
        assert held_bytes(w.settings.data_dir, sources) == []
        assert not (w.settings.results_dir / f"job-{job.id}").exists()

        args = ["--json", "links", str(job.id)]
        listed = await asyncio.to_thread(runner.invoke, app, args, env=env)  # its own loop
        assert listed.exit_code == 0, listed.output
        said = json.loads(listed.output)
        by_name = {f["name"]: f for f in said["files"]}
        assert set(by_name) == {"p.jpg", "report.pdf"} and said["zip"] is None
        assert by_name["report.pdf"]["size"] == SIZE
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                for name, data in sources.items():
                    path = by_name[name]["url"].removeprefix(said["served_by"])
                    whole = await http.get(path)
                    assert whole.status_code == 200, whole.text
                    assert sha(whole.content) == sha(data)
                # The page's link, by ranges across blocks, joined: the same bytes.
                page = await served.web.links_of(await store.get_job(job.id))
                [report] = [f for f in page["files"] if f["name"] == "report.pdf"]
                pieces = []
                for start in range(0, SIZE, 700_001):
                    end = min(SIZE, start + 700_001) - 1
                    part = await http.get(report["url"], headers={"Range": f"bytes={start}-{end}"})
                    assert part.status_code == 206, part.text
                    assert part.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
                    pieces.append(part.content)
                assert sha(b"".join(pieces)) == sha(sources["report.pdf"])
        assert held_bytes(w.settings.data_dir, sources) == []  # served, nothing written
    finally:
        await shared.close()
        await store.close()


async def test_link_telegrams_links_follow_a_persons_rules(tmp_path: Path) -> None:
    """Her job's link is refused once the token it was made through is revoked, once it
    expired, and when bound to another person."""
    w = Pool(tmp_path)
    await w.log_in_all()
    folder = tmp_path / "in"
    folder.mkdir()
    source = pdf(folder / "a.pdf", MIB + 5)
    # Links that live a minute, not the default day: the clock moved past a day woke the
    # app's sleepers once a second of it (86,401 wake-ups, 11 CPU-s).
    web = w.settings.web.model_copy(update={"link_ttl": 60.0})
    w.settings = w.settings.model_copy(update={"send_documents": True, "web": web})
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    clock = ManualClock()
    try:
        ann = await store.add_user("ann", None)
        bob = await store.add_user("bob", None)
        job = await intake.add_source(
            store, folder / "a.pdf", dest="link:telegram", who=of_user(ann)
        )
        await w.run(store)
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        token = await store.add_user_token(ann.id, "hashed", "phone")
        async with web_app(w.settings, store, None, None, clock=clock, shared=shared) as served:
            web = served.web
            until = clock.now() + w.settings.web.link_ttl
            by_token = web.download_url(job.id, kept.path, until, f"u:{ann.id}:t:{token}")
            hers = web.download_url(job.id, kept.path, until, f"u:{ann.id}")
            his = web.download_url(job.id, kept.path, until, f"u:{bob.id}")
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                first = await http.get(by_token, headers={"Range": "bytes=0-9"})
                assert first.status_code == 206 and first.content == source[:10]
                refused = await http.get(his)
                assert refused.status_code == 410
                assert refused.json()["error"]["code"] == "link.revoked"
                assert await store.remove_user_token(ann.id, token)
                revoked = await http.get(by_token, headers={"Range": "bytes=0-9"})
                assert revoked.status_code == 410
                assert revoked.json()["error"]["code"] == "link.revoked"
                assert (await http.get(hers)).content == source
                await clock.advance(w.settings.web.link_ttl + 1)
                expired = await http.get(hers)
                assert expired.status_code == 410
                assert expired.json()["error"]["code"] == "link.expired"
    finally:
        await shared.close()
        await store.close()


async def test_the_api_and_the_chat_take_link_telegram(tmp_path: Path) -> None:
    """The page's API asks for it as ``deliver: {to: link, chat: telegram}``; every door
    parses it through the same registry (``sink.unknown`` for another target)."""
    w = Pool(tmp_path)
    await w.log_in_all()
    store = await w.store()
    ann = await store.add_user("ann", hash_password("pw-" + "ann" * 3), False)
    try:
        async with web_app(w.settings, store, EventBus(), lambda: True) as served:
            transport = httpx.ASGITransport(app=served.app, client=("10.1.2.3", 5000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1", headers=CSRF
            ) as her:
                signed = await her.post(
                    f"{API}/session/password", json={"name": "ann", "password": "pw-annannann"}
                )
                assert signed.status_code == 204, signed.text
                page = await her.get("/")
                assert 'value="link-telegram"> To download, kept in Telegram' in page.text
                made = await her.post(
                    f"{API}/jobs",
                    json={
                        "source": "https://example.com/a.zip",
                        "deliver": {"to": "link", "chat": "telegram"},
                    },
                )
                assert made.status_code == 202, made.text
                job = await store.get_job(int(made.json()["id"]))
                assert job.dest == "link:telegram"
                wrong = await her.post(
                    f"{API}/jobs",
                    json={
                        "source": "https://example.com/b.zip",
                        "deliver": {"to": "link", "chat": "elsewhere"},
                    },
                )
                assert wrong.status_code == 400, wrong.text
                assert wrong.json()["error"]["code"] == "sink.unknown"
    finally:
        await store.close()
    sinks = default_sinks()
    assert sinks.parse(sinks.expand("link:telegram")).text == "link:telegram"
    # A person's caption ``to: link:telegram`` (the chat's door) is a place of theirs,
    # and ``/settings`` offers it.
    assert own_dest(of_user(ann), sinks, "link:telegram") == "link:telegram"
    [to] = [c for c in CHOICES if c.key == "to"]
    assert "link:telegram" in [o.value for o in to.options]
    assert sinks.words("link:telegram") == "a download link, the file kept in Telegram"
    assert "link:telegram" in sinks.describe()


async def test_bots_alone_need_a_channel_to_keep_files_in(tmp_path: Path) -> None:
    w = Pool(tmp_path, send_documents=True)
    await log_in_as(w.settings, w.server, w.bot1, "bot1")
    await log_in_as(w.settings, w.server, w.bot2, "bot2")
    sinks = default_sinks()
    with pytest.raises(FerrymanError) as caught:
        sinks.check_ready(w.settings, "link:telegram")
    assert caught.value.code == "telegram.no_saved_messages"
    assert "telegram.link_chat" in caught.value.next_step
    chosen = w.settings.model_copy(
        update={"telegram": w.settings.telegram.model_copy(update={"link_chat": "@dest"})}
    )
    sinks.check_ready(chosen, "link:telegram")  # a channel the bots post in: taken
    w.settings = chosen
    folder = tmp_path / "in"
    folder.mkdir()
    source = pdf(folder / "a.pdf", MIB + 77)
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        job = await intake.add_source(store, folder / "a.pdf", dest="link:telegram")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        [message] = [m for m in w.server.chat(w.channel) if m.media is not None]
        assert media_kind(message) == "document" and message.media.file.name == "a.pdf"
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        assert kept.channel  # every account of the pool reads it
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            [link] = (await served.web.links_of(await store.get_job(job.id)))["files"]
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                got = await http.get(link["url"])
        assert got.status_code == 200 and got.content == source
    finally:
        await shared.close()
        await store.close()


async def test_a_file_over_the_limit_goes_in_pieces_and_one_link_joins_them(
    tmp_path: Path,
) -> None:
    """A document over Telegram's size limit (here a small one set) is cut by bytes into
    pieces, each a message of its own; one link serves them joined: whole (SHA-256 equal
    to the source's) and by ranges, across the pieces' joins."""
    limit = MIB + 300_000
    w = Pool(tmp_path, send_documents=True, media={"max_file_bytes": limit})
    await w.log_in_all()
    folder = tmp_path / "in"
    folder.mkdir()
    size = 3 * limit + 12_345  # four pieces, the last a short one
    source = pdf(folder / "big.pdf", size)
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        job = await intake.add_source(store, folder / "big.pdf", dest="link:telegram")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        [item] = await store.job_items(job.id)
        assert item.state is ItemState.DELIVERED and item.sha256 == sha(source)
        saved = [m for m in w.server.chat(w.me) if m.media is not None]
        assert [m.media.file.size for m in saved] == [limit] * 3 + [12_345]
        assert b"".join(m.media.file.data for m in saved) == source  # in order
        kept = await telegram_files(store.sink_state("telegram"), job.id)
        assert len(kept) == 4 and {f.joined for f in kept} == {"big.pdf"}
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            [link] = (await served.web.links_of(await store.get_job(job.id)))["files"]
            assert (link["name"], link["size"]) == ("big.pdf", size)
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                whole = await http.get(link["url"])
                assert whole.status_code == 200, whole.text
                assert whole.headers["content-type"].startswith("application/pdf")
                assert sha(whole.content) == sha(source)
                for start, end in [
                    (0, 99),
                    (limit - 50, limit + 50),  # across the first join
                    (limit - 1, 3 * limit),  # two joins, from a piece's last byte
                    (2 * limit, size - 1),  # from a piece's first byte to the end
                    (size - 7, size - 1),
                ]:
                    part = await http.get(link["url"], headers={"Range": f"bytes={start}-{end}"})
                    assert part.status_code == 206, part.text
                    assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
                    assert part.content == source[start : end + 1], (start, end)
        assert held_bytes(w.settings.data_dir, {"big.pdf": source}) == []
        assert not list((w.settings.data_dir / "work").rglob("*.piece*"))  # gone with the job
    finally:
        await shared.close()
        await store.close()


def work_bytes(work: Path) -> int:
    """Bytes of every file in the work area now."""
    return sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) if work.exists() else 0


async def test_a_file_of_n_times_the_limit_takes_its_size_once_in_the_work_area(
    tmp_path: Path,
) -> None:
    """Its pieces are windows of the one staged file, read in place by their uploads:
    the work area's peak, measured at every request Telegram gets while the job runs
    (each piece's parts, each send), stays under 1.2x the file (a copy of the pieces
    beside it, as before, made it 2x), and every piece still arrives in order."""
    limit = MIB + 300_000
    w = Pool(tmp_path, send_documents=True, media={"max_file_bytes": limit})
    await w.log_in_all()
    folder = tmp_path / "in"
    folder.mkdir()
    size = 4 * limit + 4_321  # N = 4 (five pieces, the last a short one)
    source = pdf(folder / "big.pdf", size)
    work = w.settings.work_dir
    seen: list[int] = []
    w.server.after_handle.append(lambda _call, _request, _result: seen.append(work_bytes(work)))
    store = await w.store()
    try:
        job = await intake.add_source(store, folder / "big.pdf", dest="link:telegram")
        await w.run(store)
        assert (await store.get_job(job.id)).state is JobState.DONE
        saved = [m for m in w.server.chat(w.me) if m.media is not None]
        assert [m.media.file.size for m in saved] == [limit] * 4 + [4_321]
        assert b"".join(m.media.file.data for m in saved) == source
    finally:
        await store.close()
    print(f"work area peak: {max(seen):,} bytes, {max(seen) / size:.2f}x the file")
    assert max(seen) >= size  # the staged file was there while its pieces went
    assert max(seen) < 1.2 * size, f"peak {max(seen) / size:.2f}x the file"


@pytest.mark.parametrize("size", [11, 19, 20, 21, 30, 31])
def test_cut_bytes_names_windows_of_the_limit_that_join_to_the_file(
    tmp_path: Path, size: int
) -> None:
    """The pieces are windows of the one staged file, named so: nothing is written,
    and the same file and limit name the same pieces on every run (their identity)."""
    path = tmp_path / "f.bin"
    data = bytes(range(size))
    path.write_bytes(data)
    pieces = cut_bytes(path, size, 10)
    count = -(-size // 10)
    assert [p.name.partition("@")[0] for p in pieces] == [
        f"f.bin.piece{n + 1}" for n in range(count)
    ]
    windows = [window_of(str(p), str(path)) for p in pieces]
    assert all(w is not None and w.path == str(path) for w in windows)
    assert [w.length for w in windows if w] == [10] * (count - 1) + [size - 10 * (count - 1)]
    joined = b"".join(data[w.offset : w.offset + w.length] for w in windows if w)
    assert joined == data
    assert sorted(tmp_path.iterdir()) == [path]  # no second copy on disk
    assert cut_bytes(path, size, 10) == pieces  # the same names again: the same identity
    assert window_of(str(pieces[0]), str(tmp_path / "other.bin")) is None  # of its file only
