"""The modules the engine's child processes run in, loaded ahead into the template
they fork from (``media.child``), and when that template starts.

The fetch stage runs yt-dlp (``links.grab``) and the convert stage runs its encoders
(``engine.convert.step``'s targets: ``media.segmented``, ``media.audio``,
``media.animation``, with PyAV) in children, and so is an Apprise notice
(``net.apprise_send``: its lookups guarded). Loaded once in the template (0.25 s and
60 MB here), each child starts in milliseconds instead of importing them again; and
where links are expected, yt-dlp's ~1,750 URL patterns are compiled there once
(``links.warm``: 0.77 CPU-s of each link's child otherwise).
The template holds them for as long as the engine runs, so what only some runs need
is loaded only for those: Apprise (~4 MB) where ``notify.urls`` names a target (a job's
own ``--notify`` loads it in its notice's child, ~0.3 s once a notice), the CLI (~5 MB)
where each child would import it again (below).
"""

from __future__ import annotations

import sys

from ferryman.media.child import prepare, warm
from ferryman.store.startup.queued_child_work import queued_child_work

CHILD_MODULES = (
    "ferryman.media.segmented",
    "ferryman.media.audio",
    "ferryman.media.animation",
    "ferryman.links.grab",
    "yt_dlp",
)
# yt-dlp's URL patterns compiled once for every child (0.75 CPU-s and 10 MB of the
# template's): where links are expected, a front door people add them through, or a
# queue that holds one.
WARM_LINKS = "ferryman.links.warm"
APPRISE = "ferryman.net.apprise_send"  # a notice to Apprise (apprise itself loads with it)
# multiprocessing runs the parent's main script again in each child (as ``__mp_main__``),
# and the ``ferryman`` command's script imports the CLI: loaded in the template, that
# is a lookup (~100 ms a child otherwise). ``python -m ferryman`` (a phone's service)
# and ``python -c`` run nothing again.
SCRIPT_CLI = "ferryman.frontdoors.cli.root"


def child_modules(notices: bool, links: bool) -> tuple[str, ...]:
    """The template's modules: ``notices``, Apprise's too (``notify.urls`` not empty);
    ``links``, yt-dlp made ready (``links.warm``)."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__spec__", None) is None and getattr(main, "__file__", None)
    return (
        *CHILD_MODULES,
        *((WARM_LINKS,) if links else ()),
        *((APPRISE,) if notices else ()),
        *((SCRIPT_CLI,) if script else ()),
    )


def prepare_children(notices: bool, links: bool) -> None:
    """Name the template's modules without starting it: the first child starts it."""
    prepare(child_modules(notices, links))


def start_children_for(database_url: str, notices: bool) -> None:
    """Ready the template: started now when the queue holds work that runs in children
    (call this early, so it loads while the engine does: ~0.2 s of a link's run), else
    by the first child. It holds ~80 MB while it lives, which an archive of photos,
    needing no child, is spared (``bench memory``); yt-dlp is made ready in it when the
    queue holds a link."""
    queued = queued_child_work(database_url)
    modules = child_modules(notices, links=queued.links)
    if queued.any:
        warm(modules)
    else:
        prepare(modules)
