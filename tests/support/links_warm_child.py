"""Run as ``python -m tests.support.links_warm_child``: the engine's child-process
template made ready as ``ferryman web`` makes it (``engine.plumbing.children``), then one
child asked how many of yt-dlp's extractors had their URL pattern compiled when it
started, and after it asked each of them about a link. Prints ``before after``."""

from __future__ import annotations

import asyncio

from ferryman.engine.plumbing.children import child_modules
from ferryman.media.child import run_in_child, warm


def compiled_at_start(*, progress: object, event: object) -> None:
    """In the child: the extractors with a compiled pattern, then the same after a pass."""
    from yt_dlp.extractor import gen_extractor_classes

    classes = gen_extractor_classes()
    before = sum("_VALID_URL_RE" in c.__dict__ for c in classes)
    for extractor in classes:
        extractor.suitable("http://127.0.0.1:9/clip.mp4")
    after = sum("_VALID_URL_RE" in c.__dict__ for c in classes)
    event("counts", (before, after))  # type: ignore[operator]


async def _main() -> None:
    warm(child_modules(notices=False, links=True))
    got: list[tuple[int, int]] = []
    await run_in_child(
        compiled_at_start,
        {},
        on_progress=None,
        timeout=120,
        on_event=lambda _name, value: got.append(value),
    )
    print(*got[0])


if __name__ == "__main__":
    asyncio.run(_main())
