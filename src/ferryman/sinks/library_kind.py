"""The ``library:`` destination: what it accepts and how its folders are checked, and
which sink lays it out (``library_layout``: albums, ``sinks/library.py``; a template,
``sinks/flat.py``). Apart from both sinks, so neither imports the other's chooser."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.media.policy import LIBRARY, LIBRARY_PLAYABLE
from ferryman.sinks.base import Sink, SinkEnv, SinkKind
from ferryman.sinks.library import LibrarySink, check_writable

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.media.policy import Policy
    from ferryman.model import Job


class LibraryKind(SinkKind):
    """``library:`` (the default library) or ``library:/some/path``: folders on disk,
    any album size, originals kept as media servers play them (``LIBRARY``); made to
    play anywhere with ``convert`` (``?convert=yes`` or ``media.library_convert``).
    Every file of an input is kept, as it is, beside the media (a camera's RAW and
    sidecars, a PDF), unless ``media=only`` or ``library_media_only`` asks for media
    alone."""

    scheme = "library"
    description = "library: (the default library) or library:/some/path"
    client_target: str | None = None
    album_max: int | None = None
    builds_folders = True  # its sinks may leave ``.NNNN.partial`` after a kill: swept
    backup = True  # a file nothing here decodes is kept as it is, not quarantined
    # ``media``: it keeps every file of an input (RAW, sidecars, any), unless ``media=only``.
    takes: frozenset[str] = frozenset({"caption", "convert", "media"})

    def parse(self, target: str) -> str:
        if "\x00" in target:  # no folder is named so (the probe would raise ValueError)
            raise FerrymanError("sink.unknown", f"library:{target!r}: a path holds no NUL")
        # ``~`` is the person's home, as a shell would read it (a preset saved with
        # ``--to library:~/Podcasts``); no filesystem access: loop-safe
        return os.path.abspath(os.path.expanduser(target)) if target else ""

    def words(self, target: str) -> str:
        return f"the folder {target}" if target else "the library"

    def policy(self, settings: Settings) -> Policy:
        return LIBRARY_PLAYABLE if settings.media.library_convert else LIBRARY

    def check_ready(self, settings: Settings, target: str) -> None:
        """The folder is made on first delivery; here, at ``add``, it must be one that
        can be: a writable folder, or one creatable in the nearest folder that exists
        (``/proc/nope`` is refused now, not retried for a minute and failed later); and
        ``library_layout`` must be a template that renders."""
        from ferryman.sinks.layout import check_template  # lazy: start-up

        check_template(settings.library_layout)
        check_writable(Path(target) if target else settings.library)

    def open(self, target: str, env: SinkEnv) -> Sink:
        """Laid out by ``library_layout``: ``albums`` (``<job>/0001/``), or a template
        (``sinks/layout.py``; a library already in albums keeps them)."""
        from ferryman.sinks.flat import FlatLibrarySink, Listings  # lazy: start-up
        from ferryman.sinks.layout import ALBUMS, check_template  # lazy: start-up

        root = Path(target) if target else env.settings.library
        layout, link = env.settings.library_layout, env.settings.library_link
        if layout == ALBUMS:
            return LibrarySink(root, link)
        check_template(layout)
        listed = env.resources.get(f"library-names:{root}", Listings)
        return FlatLibrarySink(root, layout, listed, link, env.state)

    def holds(self, settings: Settings, target: str, job: Job) -> Callable[[Path], bool]:
        """Reads the library back: a file of the job's own records holding the person's
        bytes (``sinks/library_check.py``)."""
        from ferryman.sinks.library_check import library_holds  # lazy: start-up

        root = Path(target) if target else settings.library
        return functools.partial(library_holds, root, job)
