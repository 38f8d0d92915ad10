"""The modules the engine's child processes run in, loaded ahead into the template
they fork from (``media.child``), and when that template starts.

The fetch stage runs yt-dlp (``links.grab``) and the convert stage runs its encoders
(``engine.convert.step``'s targets: ``media.segmented``, ``media.audio``,
``media.animation``, with PyAV) in children, and so is an Apprise notice
(``net.apprise_send``: its lookups guarded). Loaded once in the template (0.25 s and
60 MB here), each child starts in milliseconds instead of importing them again.
"""

from __future__ import annotations

from ferryman.media.child import prepare, warm
from ferryman.store.peek import children_wanted

CHILD_MODULES = (
    "ferryman.media.segmented",
    "ferryman.media.audio",
    "ferryman.media.animation",
    "ferryman.links.grab",
    "yt_dlp",
    "ferryman.net.apprise_send",  # a notice to Apprise (apprise itself loads in the child)
    # multiprocessing runs the parent's main script again in each child (as
    # ``__mp_main__``), and the ``ferryman`` command's script imports the CLI: loaded
    # here, that is a lookup (~100 ms a child otherwise; ``python -m`` skips it).
    "ferryman.frontdoors.cli",
)


def prepare_children() -> None:
    """Name the template's modules without starting it: the first child starts it."""
    prepare(CHILD_MODULES)


def start_children_for(database_url: str) -> None:
    """Ready the template: started now when the queue holds work that runs in children
    (call this early, so it loads while the engine does: ~0.2 s of a link's run), else
    by the first child. It holds ~70 MB while it lives, which an archive of photos,
    needing no child, is spared (``bench memory``)."""
    if children_wanted(database_url):
        warm(CHILD_MODULES)
    else:
        prepare(CHILD_MODULES)
