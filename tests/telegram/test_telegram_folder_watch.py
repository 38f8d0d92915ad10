"""The chat's ``/watch`` of a folder on the machine: refused unless the settings list
it (``watch.folders``: a chat account must not reach every file of the server), taken
with its ``then`` when they do."""

from __future__ import annotations

import dataclasses

from tests.telegram.test_telegram_frontdoor import World, reply_to, serving


async def test_the_chat_watches_only_a_folder_the_settings_list(world: World) -> None:
    camera = world.tmp / "DCIM" / "Camera"
    camera.mkdir(parents=True)
    async with serving(world):
        refused = await reply_to(world, world.alice, f"/watch {camera} to library:")
        assert refused.startswith("watch.folder_not_allowed"), refused
    assert await world.store.list_watches() == []

    listed = world.settings.watch.model_copy(update={"folders": [str(world.tmp / "DCIM")]})
    world = dataclasses.replace(world, settings=world.settings.model_copy(update={"watch": listed}))
    async with serving(world):
        added = await reply_to(world, world.alice, f"/watch {camera} to library: then delete")
    (watch,) = await world.store.list_watches()
    assert (watch.kind, watch.source, watch.after_delivery) == ("folder", str(camera), "delete")
    assert added.startswith(f"watch {watch.id}: {camera} (folder) → library:"), added
