"""A job's delivery options, carried in its destination (``telegram:me?as=documents``):
parsed whole or refused with ``sink.unknown``, kept in the job's ``dest``, and honoured
by the Telegram sink against the fake Telegram with the real Telethon client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from telethon.tl import types
from typer.testing import CliRunner

from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.telegram.user_settings import UserSettings
from ferryman.samples import make_zip
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.options import DeliveryOptions, split
from ferryman.sinks.telegram_kind import session_file
from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from tests.support.telegram_helpers import media_kind
from tests.telegram.test_telegram_sink import World, photos, sha
from tests.unit.test_parsers_total import TOTAL


def test_options_ride_in_the_destination_and_come_back_canonical() -> None:
    sinks = default_sinks()
    found = sinks.parse("telegram:@chan?caption=%7Bjob_name%7D%20%26%20co&as=documents")
    assert (found.scheme, found.target) == ("telegram", "@chan")
    assert found.options == DeliveryOptions(as_documents=True, caption="{job_name} & co")
    assert found.text == "telegram:@chan?as=documents&caption=%7Bjob_name%7D%20%26%20co"
    assert sinks.parse(found.text) == found  # what a job keeps parses to the same
    assert sinks.parse("telegram:me?as=media").text == "telegram:me"
    assert sinks.parse("telegram:me").options == DeliveryOptions()
    assert sinks.parse("telegram:me?thumb=/srv/a%20b.jpg").options.thumb == "/srv/a b.jpg"
    assert sinks.parse(sinks.expand("@chan?as=documents")).text == "telegram:@chan?as=documents"


@pytest.mark.parametrize(
    ("dest", "says"),
    [
        ("telegram:me?as=files", "as is media or documents"),
        ("telegram:me?colour=red", "'colour=red' is not an option"),
        ("telegram:me?as=documents&as=media", "as is given twice"),
        ("telegram:me?", "'' is not an option"),
        ("telegram:me?caption={nope}", "caption can use"),
        ("telegram:me?caption=%7Balbum%5B0%5D%7D", "caption can use"),
        ("telegram:me?caption=%7Balbum%3A%3E999999999%7D", "width is at most 999"),
        ("telegram:me?thumb=rel/t.jpg", "absolute path"),
        ("telegram:me?caption=%FF", "not UTF-8"),
        ("library:/srv/x?as=documents", "takes no as"),
        ("telegram:nobody!?as=documents", "not a chat"),
    ],
)
def test_options_not_well_formed_are_refused_with_what_is_wrong(dest: str, says: str) -> None:
    with pytest.raises(FerrymanError) as refused:
        default_sinks().parse(dest)
    assert refused.value.code == "sink.unknown"
    assert says in refused.value.message


def test_a_thumbnail_path_is_not_taken_from_a_remote_client_or_a_chat() -> None:
    """``thumb=`` reads a file of the server: the web API's client and a chat's
    destination may not name one (a chat user sets theirs with /settings thumbnail)."""
    sinks = default_sinks()
    with pytest.raises(FerrymanError) as refused:
        sinks.for_client("telegram", "me?thumb=/etc/hostname")
    assert refused.value.code == "request.invalid"
    assert sinks.for_client("telegram", "me?as=documents") == "telegram:me?as=documents"
    mine = UserSettings(MemoryStore(), sinks)  # no store read here
    with pytest.raises(FerrymanError) as refused:
        mine.with_options("me?thumb=/etc/hostname", DeliveryOptions())
    assert "/settings thumbnail" in refused.value.message
    chosen = DeliveryOptions(as_documents=True, thumb="/data/thumbnails/1.jpg")
    assert (
        mine.with_options("me", chosen) == "telegram:me?as=documents&thumb=/data/thumbnails/1.jpg"
    )
    assert mine.with_options("library:/srv/x", chosen) == "library:/srv/x"  # takes neither


@TOTAL
@given(
    target=st.sampled_from(["telegram:me", "library:/srv/x", "link:"]),
    query=st.text(st.characters(codec="utf-8"), max_size=40)
    | st.lists(
        st.tuples(st.sampled_from(["as", "caption", "thumb", "x", ""]), st.text(max_size=12)),
        max_size=4,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
)
def test_any_options_parse_or_are_refused_with_sink_unknown(target: str, query: str) -> None:
    sinks = default_sinks()
    try:
        found = sinks.parse(f"{target}?{query}")
    except FerrymanError as exc:
        assert exc.code == "sink.unknown"
        return
    assert sinks.parse(found.text) == found  # canonical text parses to the same


@TOTAL
@given(
    as_documents=st.booleans(),
    caption=st.none()
    | st.text(min_size=1, max_size=30).filter(lambda t: "{" not in t and "}" not in t),
    thumb=st.none() | st.text(min_size=1, max_size=20).map(lambda t: "/" + t.replace("\0", "")),
)
def test_options_written_are_read_back(
    as_documents: bool, caption: str | None, thumb: str | None
) -> None:
    chosen = DeliveryOptions(as_documents, caption if caption and caption.strip() else None, thumb)
    assert split("telegram:me" + chosen.query()) == ("telegram:me", chosen)


def test_add_takes_a_destination_with_options_and_help_names_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "ferryman.toml"
    config.write_text(f'data_dir = "{data}"\n[telegram]\napi_id = 1\napi_hash = "h"\n')
    settings = load_settings(config)
    session_file(settings).parent.mkdir(parents=True, exist_ok=True)
    session_file(settings).touch()  # logged in, as far as `add` looks
    archive = make_zip(tmp_path / "in.zip", photos(tmp_path / "in", 2))
    env = {"FERRYMAN_CONFIG": str(config), "COLUMNS": "200"}
    runner = CliRunner()
    added = runner.invoke(app, ["add", str(archive), "--to", "telegram:me?as=documents"], env=env)
    assert added.exit_code == 0, added.output

    async def dests() -> list[str]:
        store = await Store.open(settings.database)
        try:
            return [job.dest for job in await store.list_jobs()]
        finally:
            await store.close()

    assert asyncio.run(dests()) == ["telegram:me?as=documents"]
    refused = runner.invoke(app, ["add", str(archive), "--to", "telegram:me?as=files"], env=env)
    assert refused.exit_code != 0 and "as is media or documents" in refused.output
    shown = runner.invoke(app, ["add", "--help"], env=env).output
    assert "?as=documents" in shown and "caption=TEMPLATE" in shown


@pytest.mark.slow
async def test_a_zip_of_photos_to_as_documents_arrives_as_documents_with_its_caption_and_thumb(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    inputs = photos(tmp_path / "in", 12, size=(640, 480))
    thumb = tmp_path / "thumb.png"
    Image.new("RGB", (900, 600), (10, 200, 10)).save(thumb)  # fitted to 320 px by the sink
    archive = make_zip(tmp_path / "media.zip", inputs)
    store = await w.store()
    dest = f"telegram:@dest?as=documents&caption=%5B{{album}}%5D%20{{job_name}}&thumb={thumb}"
    job = await intake.add_source(store, archive, dest=dest, sinks=default_sinks())
    assert job.dest.startswith("telegram:@dest?as=documents&caption=%5B%7Balbum%7D%5D")
    await w.run(store)
    chat = w.server.chat(w.channel)
    assert len(chat) == 12
    assert [media_kind(m) for m in chat] == ["document"] * 12  # no photo among them
    albums = w.server.albums(w.channel)
    assert [len(a) for a in albums] == [10, 2]  # albums of documents, ten at most
    assert [a[0].text for a in albums] == ["[1] media", "[2] media"]
    sources = {name: path for name, path in inputs}
    for m in chat:
        (name,) = [
            a.file_name
            for a in m.media.attributes
            if isinstance(a, types.DocumentAttributeFilename)
        ]
        assert m.media.file.sha256 == sha(sources[name].read_bytes())  # unchanged
        assert m.media.thumb is not None, f"{name} arrived without the chosen thumbnail"
    await store.close()


async def test_a_name_is_unique_in_its_place_whatever_options_the_jobs_carry(
    tmp_path: Path,
) -> None:
    """Two jobs into one library folder, one with a caption of its own, do not share a
    folder name (the library's folders are by name)."""
    archive = make_zip(tmp_path / "trip.zip", photos(tmp_path / "in", 1))
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        lib = tmp_path / "lib"
        plain = await intake.add_source(store, archive, dest=f"library:{lib}", force=True)
        own = await intake.add_source(
            store, archive, dest=f"library:{lib}?caption=%7Bjob_name%7D", force=True
        )
        again = await intake.add_source(store, archive, dest=f"library:{lib}", force=True)
    finally:
        await store.close()
    assert [plain.name, own.name, again.name] == ["trip", "trip (2)", "trip (3)"]
