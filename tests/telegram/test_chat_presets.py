"""A chat caption's ``preset:NAME`` (``frontdoors/telegram/inbox.preset_of``), against the
fake Telegram with the real Telethon client: a preset of the machine's own user (the CLI's
``ferryman preset add``) gives a link its output and its place; a caption's own choice
wins; a name no preset has is answered with the names there are."""

from __future__ import annotations

from ferryman.frontdoors.telegram.caption import read_caption, wished_preset
from ferryman.links import presets
from tests.support.httpserve import serving as http_serving
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import World, reply_to, serving


def test_a_presets_name_is_no_output_word() -> None:
    text = "preset:720p https://example.com/v"
    assert wished_preset(text) == "720p"
    assert read_caption(text, "library:").profile is None  # the preset's, not a caption's


async def test_a_caption_names_a_preset_for_a_links_output_and_place(world: World) -> None:
    pods = world.settings.library / "pods"
    presets.add(world.settings.data_dir, None, presets.Preset("pod", "mp3-128", f"library:{pods}"))
    with http_serving() as web:
        web.add("/a.mp4", b"not really a video", content_type="video/mp4")
        web.add("/b.mp4", b"not really a video", content_type="video/mp4")
        async with serving(world):
            said = await reply_to(world, world.alice, f"preset:nope {web.url('/a.mp4')}")
            assert said.startswith("not taken: no preset 'nope' (there are: ")
            assert "pod" in said and "mp3" in said
            world.send(world.alice, f"preset:pod {web.url('/a.mp4')}")
            world.send(world.alice, f"preset:pod 720p {web.url('/b.mp4')}")

            async def both() -> bool:
                return len(await world.store.list_jobs()) == 2

            await eventually(both, "a job a link")
            jobs = {j.source.rsplit("/", 1)[-1]: j for j in await world.store.list_jobs()}
    assert jobs["a.mp4"].source.startswith("media:mp3-128:http://127.0.0.1")
    assert jobs["b.mp4"].source.startswith("media:video-720:http://127.0.0.1")
    assert {j.dest for j in jobs.values()} == {f"library:{pods}"}
