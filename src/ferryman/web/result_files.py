"""A delivered result's files as the web shows them, whichever store keeps them (a
folder, ``web.results``; an S3 bucket, ``web.results_s3``): each file's kind, duration
and place in the job's zip (from its album's manifest), its download name, and the zip
of a job made as it is sent. Apart from both stores, so neither imports the other."""

from __future__ import annotations

import json
import mimetypes
import urllib.parse
import zipfile
from dataclasses import dataclass
from typing import IO, cast

from ferryman.naming import unique_name, zip_member
from ferryman.sinks.link import preview_path


@dataclass(frozen=True, slots=True)
class ResultFile:
    path: str  # inside the job's results: "0001/clip.mp4"
    name: str
    size: int
    mime: str
    kind: str = "other"  # photo, video, audio or other: how the page shows it
    duration: float | None = None  # seconds, for a video or audio file
    preview: str | None = None  # its WebP preview inside the job's results, if made
    member: str = ""  # in the job's zip, under its input's folders: "Holiday 2024/a.jpg"


@dataclass(frozen=True, slots=True)
class Facts:
    """What an album's manifest says of one of its files."""

    kind: str
    duration: float | None
    member: str = ""  # where it goes in the job's zip (``naming.zip_member``)


_SHOWN_AS = {"photo": "photo", "video": "video", "animation": "video", "audio": "audio"}
_BY_MIME = {"image": "photo", "video": "video", "audio": "audio"}


def result_file(
    album: str, name: str, size: int, facts: Facts | None, previews: set[str]
) -> ResultFile:
    """One delivered file as the web lists it; without a manifest, its kind is guessed
    from its name."""
    mime = mime_of(name)
    if facts is None:
        facts = Facts(_BY_MIME.get(mime.partition("/")[0], "other"), None)
    elif facts.kind == "video" and mime.startswith("image/"):  # an animation kept as a GIF
        facts = Facts("photo", None, facts.member)
    preview = f"{album}/{preview_path(name)}" if preview_path(name) in previews else None
    return ResultFile(
        f"{album}/{name}", name, size, mime, facts.kind, facts.duration, preview, facts.member
    )


def disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback and the real name as UTF-8 ``filename*``."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


def mime_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def album_facts(manifest: bytes) -> tuple[list[str], dict[str, Facts]] | None:
    """The files of an album in the manifest's order, with what it says of each (a
    split video's parts share its kind; the duration is the whole video's, so it is
    given to the only file of an unsplit one; its place in the job's zip, under the
    folders its source path had); None if it is not a manifest."""
    try:
        items = json.loads(manifest)["items"]
        names: list[str] = []
        facts: dict[str, Facts] = {}
        for entry in items:
            files = entry.get("parts") or [entry["file"]]
            media = entry.get("media") or {}
            seconds = media.get("duration") if len(files) == 1 else None
            kind = _SHOWN_AS.get(str(entry.get("kind")), "other")
            source = str(entry.get("source_path") or "")
            for name in files:
                names.append(name)
                member = zip_member(source, name)
                facts[name] = Facts(kind, float(seconds) if seconds else None, member)
        return names, facts
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ZipWriter:
    """A zip written as it is sent (stored: media does not compress; ZIP64, so any
    size): each call returns the bytes it made, for the response to send."""

    def __init__(self) -> None:
        self._sink = _Chunks()
        self._archive = zipfile.ZipFile(cast("IO[bytes]", self._sink), "w", zipfile.ZIP_STORED)
        self._used: set[str] = set()
        self._entry: IO[bytes] | None = None

    def start(self, name: str) -> bytes:
        """Begin the next file, ``name`` a path in the zip (a second ``a.jpg`` in one
        folder becomes ``a (2).jpg``)."""
        self._entry = self._archive.open(unique_name(name, self._used), "w", force_zip64=True)
        return self._sink.take()

    def write(self, block: bytes) -> bytes:
        assert self._entry is not None
        self._entry.write(block)
        return self._sink.take()

    def end(self) -> bytes:
        assert self._entry is not None
        self._entry.close()
        self._entry = None
        return self._sink.take()

    def finish(self) -> bytes:
        self._archive.close()
        return self._sink.take()


class _Chunks:
    """A write-only, unseekable file for ZipFile: what it writes is taken in pieces."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        parts, self._parts = self._parts, []
        return b"".join(parts)
