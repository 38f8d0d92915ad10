"""The link child's last step for one entry: its subtitles and chapters put into the
made file and, for a library, its sidecars written beside it (``links.extras`` says
what and why). Runs in the child, after the file is made and verified."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ferryman.links import extras, make
from ferryman.links.grab_download import Curve, download
from ferryman.links.profile import Profile

log = logging.getLogger(__name__)

MAX_THUMBNAIL = 10 << 20  # a site's thumbnail is a picture, not a download


def add_extras(
    ydl: Any,
    info: dict[str, Any],
    profile: Profile,
    work: Path,
    out: Path,
    made: dict[str, Any],
    curve: Curve,
    max_size: int = 0,
) -> dict[str, Any]:
    """``made`` (the entry's record) with the subtitles and chapters in its file (size
    and hash taken anew) and the names of the sidecars written beside it."""
    if not extras.wants_extras(profile, info):
        return made
    work.mkdir(parents=True, exist_ok=True)
    target = out / str(made["file"])
    subs: dict[str, list[extras.Cue]] = {}
    for language, fmt in extras.chosen_subtitles(info, profile.subs).items():
        path = work / f"subtitles.{language}.{fmt.get('ext') or 'vtt'}"
        wanted = {**fmt, "format_id": f"subtitles-{language}"}
        download(ydl, info, wanted, path, lambda _f: None, curve, max_size)
        cues = extras.read_cues(path)
        if cues:
            subs[language] = cues
    chapters = info.get("chapters") or [] if profile.output in extras.CHAPTERED else []
    if target.suffix in (".mp4", ".m4a") and (subs or chapters):
        partial = extras.embed(target, subs, chapters, work)
        verified = make.finish_output(info, profile, partial, target, [target])
        made = {**made, "size": verified.size, "sha256": verified.sha256}
    made["subtitles"] = sorted(subs)
    if profile.sidecars:
        made["sidecars"] = _sidecars(ydl, info, target, subs)
    return made


def _sidecars(
    ydl: Any, info: dict[str, Any], target: Path, subs: dict[str, list[extras.Cue]]
) -> list[str]:
    """``Title.LANG.srt``, ``Title.nfo``, ``Title-thumb.jpg`` and ``poster.jpg`` beside
    ``target``; the names written."""
    folder, stem = target.parent, target.stem
    written: list[str] = []
    for language, cues in subs.items():
        name = f"{stem}.{language}.srt"
        extras.write_file(folder / name, extras.srt_text(cues).encode())
        written.append(name)
    extras.write_file(folder / f"{stem}.nfo", extras.nfo_text(info).encode())
    written.append(f"{stem}.nfo")
    picture = _thumbnail(ydl, info)
    if picture is not None:
        for name in (f"{stem}-thumb.jpg", "poster.jpg"):
            extras.write_file(folder / name, picture)
            written.append(name)
    return written


def _thumbnail(ydl: Any, info: dict[str, Any]) -> bytes | None:
    """The page's thumbnail as a JPEG, fetched through yt-dlp (the guarded sockets);
    None when it has none or it cannot be had (a poster is not worth a failed job)."""
    thumbnails = info.get("thumbnails") or []
    url = info.get("thumbnail") or (thumbnails[-1].get("url") if thumbnails else None)
    if not url:
        return None
    try:
        with ydl.urlopen(str(url)) as answer:
            data = answer.read(MAX_THUMBNAIL + 1)
        if len(data) > MAX_THUMBNAIL:
            return None
        return extras.poster_jpeg(data)
    except Exception as exc:  # yt-dlp's network errors, Pillow's: the poster is left out
        log.info("thumbnail not taken: %s", exc)
        return None
