"""The options `add` and `watch add` share, each defined once: a group is a frozen
dataclass whose fields are its options (``--to`` and ``--convert``, the output
profile's four, ``--notify``), and ``with_groups`` puts a group's options in a
command's signature, where Typer reads them, and hands the command the group built.

Why not one option list a command each: the two commands' copies had drifted (``watch
add`` had no ``--convert``, a ``--quality`` of another metavar, help texts of their own)
and a new destination option would have had to be added twice.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from ferryman.sinks.builtin import default_sinks

R = TypeVar("R")


@dataclass(frozen=True)
class Destination:
    """Where the albums go, whether a library's files are made to play anywhere and
    whether it keeps media alone (delivery options, carried in the destination:
    ``sinks/options.py``)."""

    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="DEST", help=f"Where albums go: {default_sinks().describe()}."
        ),
    ] = "library:"
    convert: Annotated[
        bool,
        typer.Option(
            "--convert",
            help="A library's photos and videos made to play anywhere (H.264 MP4, JPEG);"
            " without it they are kept as they are (HEVC, 4K, HDR, HEIC…), only what no"
            " media server reads repaired (media.library_convert for every job).",
        ),
    ] = False
    media_only: Annotated[
        bool,
        typer.Option(
            "--media-only",
            help="A library keeps the input's photos, videos and sounds alone; without it"
            " every file is kept too, as it is (RAW pictures, sidecars, PDFs…)"
            " (library_media_only for every job).",
        ),
    ] = False

    @property
    def dest(self) -> str:
        """``--to`` with ``--convert`` and ``--media-only`` as its ``convert=yes`` and
        ``media=only`` options."""
        dest = self.to
        for asked, option in ((self.convert, "convert=yes"), (self.media_only, "media=only")):
            if asked:
                dest = f"{dest}{'&' if '?' in dest else '?'}{option}"
        return dest


@dataclass(frozen=True)
class Output:
    """What a link to media (or a video's sound) is made into: the output profile's
    choices (``links/profile.from_choices`` checks them)."""

    quality: Annotated[
        str | None,
        typer.Option(
            "--quality",
            metavar="SIZE",
            help="Links to media: the MP4's largest size, 2160p, 1440p, 1080p (the"
            " default), 720p, 480p, 360p or best (a vertical video's short side counts).",
        ),
    ] = None
    audio: Annotated[
        str | None,
        typer.Option(
            "--audio",
            metavar="FORMAT",
            help="Links to media and video files: the sound alone, as mp3, m4a (AAC kept) or opus.",
        ),
    ] = None
    bitrate: Annotated[
        int | None,
        typer.Option(
            "--bitrate",
            metavar="KBPS",
            help="With --audio mp3: 320, 256, 192 (the default), 128 or 96 kbps; opus: 32–256.",
        ),
    ] = None
    mute: Annotated[
        bool, typer.Option("--mute", help="Links to media: the MP4 without its sound.")
    ] = False


@dataclass(frozen=True)
class Notices:
    """Where a job's (or a watch's) notices go instead of the settings' ``notify.urls``."""

    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="Where the notices go instead of notify.urls (a watch's: its own and its"
            " jobs'): Apprise URLs (tgram://, ntfy://, json://…), ferryman(s)://host/path"
            " (a signed webhook), or none.",
        ),
    ] = None


def group_parameters(group: type[Any]) -> list[inspect.Parameter]:
    """A group's fields as keyword parameters, their annotations evaluated (Typer reads
    them from the signature as it is, unevaluated strings would not do)."""
    hints = get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=hints[field.name],
        )
        for field in dataclasses.fields(group)
    ]


def with_groups(**groups: type[Any]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A command taking ``name=Group`` parameters gets each group's options in its place
    on the command line, and the group built from them when it runs."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(command, eval_str=True)
        names = {name: [f.name for f in dataclasses.fields(g)] for name, g in groups.items()}

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> R:
            for name, group in groups.items():
                kwargs[name] = group(**{field: kwargs.pop(field) for field in names[name]})
            return command(*args, **kwargs)

        # Each group's options where the group stands, all keyword-only (Typer passes
        # every parameter by name), so --help lists them in the command's order.
        parameters = [
            replaced
            for name, p in own.parameters.items()
            for replaced in (
                group_parameters(groups[name])
                if name in groups
                else [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)]
            )
        ]
        signature = own.replace(parameters=parameters)
        run.__dict__["__signature__"] = signature  # what inspect.signature, so Typer, reads
        run.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return run

    return decorate
