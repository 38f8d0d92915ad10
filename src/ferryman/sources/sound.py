"""The ``sound:`` source: a video (or sound) file on this machine, delivered as its sound
alone, MP3, M4A or Opus, as a link to media asked "Audio only" is.

``sound:mp3-192:file:///…/clip.mp4`` is what ``FileSource.with_profile`` makes of a file
(an upload from the page, a path given to ``add --audio``) asked as audio; a quality or
mute stays a link's (``link.output_for_file``). The fetch stage makes the audio file in
a child process (killed on cancel, as a link's conversion is) into the job's work area,
which is then read like a link's made files; the file itself is left where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.links.profile import Profile, parse_token
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.sources.local_path import (
    file_path,
    inspect_local,
    inspect_uri,
    job_name,
    readable,
    shown_path,
)

SCHEME = "sound"
OUT_DIR = "out"
CONVERT_TIMEOUT = 6 * 3600.0  # a film's sound is minutes of work; a stuck child is not


def sound_uri(file_uri: str, profile: Profile) -> str:
    return f"{SCHEME}:{profile.token()}:{file_uri}"


def parse_sound(uri: str) -> tuple[Profile, str]:
    """The profile and the ``file:`` URI of a ``sound:`` URI (``source.invalid`` else)."""
    scheme, _, rest = uri.partition(":")
    token, _, inner = rest.partition(":")
    if scheme.lower() != SCHEME or not inner.lower().startswith("file:"):
        raise FerrymanError("source.invalid", f"{uri!r} is not sound:FORMAT:file:///…")
    try:
        profile = parse_token(token)
    except FerrymanError:
        raise FerrymanError("source.invalid", f"{uri!r}: no audio format {token!r}") from None
    if not profile.output.is_audio or profile.playlist:
        raise FerrymanError("source.invalid", f"{uri!r}: {token!r} is not an audio format")
    return profile, inner


class SoundSource:
    """A local media file made into its sound alone: ``sound:FORMAT:file:///path``."""

    schemes: tuple[str, ...] = (SCHEME,)
    description = "a video file made into its sound, as sound:mp3:file:///path"
    shown_as = ""  # made from a file asked as audio, never typed
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        text = raw.strip()
        if not text.lower().startswith(SCHEME + ":"):
            return None
        profile, inner = parse_sound(text)
        return sound_uri(file_path(inner).as_uri(), profile)

    def path(self, uri: str) -> Path:
        return file_path(parse_sound(uri)[1])

    def describe(self, uri: str) -> str:
        profile, inner = parse_sound(uri)
        return f"{shown_path(inner)} as {profile.describe()}"

    def local_path(self, uri: str) -> Path:
        return self.path(uri)

    def inspect(self, uri: str) -> Inspection:
        """The file's name and identity (with the format asked); a folder, an archive
        or a file that is neither video nor sound is refused (``link.output_for_file``)."""
        profile, inner = parse_sound(uri)
        path = file_path(inner)
        if inspect_local(path).kind != "file" or not _has_sound_kind(path):
            raise not_sound(path)
        seen = inspect_uri(inner)
        return Inspection(seen.name, f"sound|{profile.token()}|{seen.ident}", seen.size)

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        """Make the sound into ``plan.folder/out`` (a finished one is kept: a restart
        does not make it twice)."""
        import asyncio  # lazy: start-up
        import time  # lazy: start-up

        from ferryman.media.child import run_in_child  # lazy: start-up
        from ferryman.media.progress import Pace  # lazy: start-up
        from ferryman.net.progress import DownloadProgress  # lazy: start-up

        profile, inner = parse_sound(uri)
        src = file_path(inner)
        name = job_name(Path(readable(str(src))))
        out = plan.folder / OUT_DIR
        target = out / (safe_name(name, "sound") + profile.suffix)
        if not await asyncio.to_thread(target.is_file):
            size = await asyncio.to_thread(lambda: src.stat().st_size)
            # The file's length, for the speed in media seconds a second: read by the child
            # (an upload's bytes are decoded there, never here) and told before it starts.
            pace = Pace(None)

            def on_event(name: str, value: Any) -> None:
                nonlocal pace
                if name == "duration" and isinstance(value, int | float):
                    pace = Pace(float(value))

            def on_progress(fraction: float) -> None:
                if plan.on_progress is None:
                    return
                speed, eta = pace.at(fraction, time.monotonic())
                plan.on_progress(
                    DownloadProgress(
                        int(size * fraction), size, speed or 0.0, eta, 0, fraction, "converting"
                    )
                )

            ffmpeg = plan.settings.links.ffmpeg if plan.settings is not None else None
            await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
            await run_in_child(
                make_sound,
                {
                    "src": str(src),
                    "target": str(target),
                    "token": profile.token(),
                    "title": name,
                    "ffmpeg": ffmpeg,
                },
                on_progress=on_progress,
                timeout=CONVERT_TIMEOUT,
                on_event=on_event,
            )
        made = await asyncio.to_thread(lambda: target.stat().st_size)
        return Fetched(out, made, name, variant=profile.variant())

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.media_link import read_made  # lazy: start-up

        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was made")
        with read_made(options.fetched, options) as entries:
            yield entries


def not_sound(path: Path) -> FerrymanError:
    """An input asked as audio that holds no sound to take (by its name alone: an
    upload's place on the server is nobody's business)."""
    return FerrymanError(
        "link.output_for_file",
        f"{Path(readable(str(path))).name} is not a video or a sound file:"
        " only those can be made audio only",
    )


def check_sound(path: Path) -> None:
    """Refuse now (nothing recorded) a folder, an archive or a file that is neither
    video nor sound; a path that is not there is left to ``inspect`` to say."""
    if path.is_dir() or (path.is_file() and not _has_sound_kind(path)):
        raise not_sound(path)
    if path.is_file() and inspect_local(path).kind == "archive":
        raise not_sound(path)


def _has_sound_kind(path: Path) -> bool:
    """The file's first bytes say video or sound (a picture, a document: no)."""
    from ferryman.media.classify import classify  # lazy: start-up
    from ferryman.model import MediaKind  # lazy: start-up

    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    return classify(head, path.name) in (MediaKind.VIDEO, MediaKind.AUDIO)


def _seconds(path: Path) -> float | None:
    import av  # lazy: start-up

    try:
        with av.open(str(path)) as inp:
            return inp.duration / av.time_base if inp.duration else None
    except (av.FFmpegError, OSError):
        return None


def make_sound(
    src: str,
    target: str,
    token: str,
    title: str,
    ffmpeg: str | None,
    progress: Callable[[float], None],
    event: Callable[[str, Any], None] | None = None,
) -> None:
    """In a child: ``src``'s sound as the profile ``token`` asks, verified as long as
    the file, and only then under ``target``'s name; its length told first (``event``)."""
    from ferryman.links.make import finish_output  # lazy: start-up
    from ferryman.media import linkout  # lazy: start-up
    from ferryman.media.ffmpeg_binary import find_ffmpeg  # lazy: start-up

    profile = parse_token(token)
    made = Path(target)
    partial = made.with_name("making" + profile.suffix)
    partial.unlink(missing_ok=True)
    if event is not None:
        event("duration", _seconds(Path(src)))
    try:
        linkout.audio_file(
            Path(src),
            partial,
            profile.output.value,
            profile.kbps,
            {"title": title},
            progress,
            find_ffmpeg(ffmpeg) if ffmpeg else None,
        )
    except FerrymanError as exc:  # named as the person named it, not as the work area's copy
        if exc.code != "media.no_audio":
            raise
        raise FerrymanError(
            "media.no_audio", f"{title}: no sound to keep (a silent video)"
        ) from exc
    finish_output({}, profile, partial, made, [Path(src)])  # durable, then named
