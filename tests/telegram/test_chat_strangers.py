"""A stranger (on no allow-list, linked to no account) is heard for ``/link CODE`` and
nothing else, through the real Telethon client against the fake Telegram: a file under
the caption ``/link CODE`` made a job of nobody's (the administrator's, to the server's
library) and told the server's presets' names; the engine's one rule (``ops/limits``)
makes no job for nobody, whichever door asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.engine.ops import intake
from ferryman.engine.ops import who as asking
from ferryman.errors import FerrymanError
from ferryman.links import presets
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import World, photo_zip, serving


async def _answer(world: World, text: str, **file: object) -> str:
    """Mallory sends ``text`` (with a file); the account's next message to her."""
    before = len(world.said(world.mallory))
    world.send(world.mallory, text, **file)  # type: ignore[arg-type]

    async def answered() -> str | None:
        said = world.said(world.mallory)
        return said[before].text if len(said) > before else None

    return await eventually(answered, f"an answer to {text!r}")


async def test_a_stranger_is_heard_for_link_only(world: World) -> None:
    mine = presets.Preset("server-secret", None, "library:/srv/private")
    presets.add(world.settings.data_dir, None, mine)
    zipped = photo_zip(world.tmp).read_bytes()
    async with serving(world):
        for caption in ("/link 123456 preset:nope", "/link 1 to: library:", "/link"):
            world.send(world.mallory, caption, file=zipped, name=f"{len(caption)}.zip")
        world.send(world.mallory, "/link 1 https://example.com/a.zip")
        said = await _answer(world, "/link 654321", file=zipped, name="last.zip")
        assert said.startswith("account.link_code"), said
        told = "\n".join(world.texts(world.mallory))
    assert "server-secret" not in told and "preset" not in told, told
    assert await world.store.list_jobs() == []
    assert await world.store.inbox_rows() == []
    assert world.texts(world.mallory) == [said]  # the code's answer, and nothing else


async def test_nobody_makes_no_job_at_any_door(world: World, tmp_path: Path) -> None:
    """The operation every door's new job goes through refuses nobody, with its code."""
    with pytest.raises(FerrymanError) as refused:
        await intake.add_source(
            world.store, "https://example.com/a.zip", dest="link:", who=asking.NOBODY
        )
    assert refused.value.code == "account.not_linked"
    assert await world.store.list_jobs() == []
