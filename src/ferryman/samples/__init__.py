"""Real, small sample inputs for ``ferryman demo``, the tests and the benchmarks.

The demo must run on a fresh machine without a network, and tests need many media
files that are genuinely decodable and pairwise distinct (ferryman deduplicates by
content hash). So everything here is generated locally from a seed: the same seed
gives the same bytes (videos aside, where only distinctness is promised), different
seeds give different bytes. The makers live by kind, ``samples.media`` (photos,
videos) and ``samples.archives``; the demo's inputs are made here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ferryman.samples.archives import make_bulk_zip, make_corrupt_zip, make_tar, make_zip
from ferryman.samples.media import make_photo, make_photo_set, make_video

__all__ = [
    "DemoInputs",
    "make_bulk_zip",
    "make_corrupt_zip",
    "make_demo_inputs",
    "make_photo",
    "make_photo_set",
    "make_tar",
    "make_video",
    "make_zip",
]


@dataclass(frozen=True)
class DemoInputs:
    """What ``ferryman demo`` feeds in, and what a correct run must deliver."""

    paths: list[Path]  # what the demo adds, in order
    expected_media: int  # photo/video entries that must end up delivered
    description: list[str]  # one human line per input
    kept_files: int = 0  # entries not media a library keeps as files (trip's readme.txt)

    def expected_files(self, media_only: bool) -> int:
        """What a library must hold after a correct run: the media, and the files it
        keeps unless it keeps media alone (``library_media_only``)."""
        return self.expected_media + (0 if media_only else self.kept_files)


def make_demo_inputs(folder: Path) -> DemoInputs:
    """Create the six demo inputs in ``folder``, covering each path through ferryman.

    Archives (zip, nested tar.gz with a non-media entry), a loose folder, a file that
    only needs a new container, one that needs a transcode, and a broken archive.
    Every media file has its own seed so none is a duplicate of another.
    """
    folder.mkdir(parents=True, exist_ok=True)
    seeds = iter(range(1000, 2000))
    paths: list[Path] = []
    description: list[str] = []
    media = 0

    with tempfile.TemporaryDirectory(dir=folder, prefix=".staging-") as tmp:
        staging = Path(tmp)

        def photo(name: str, fmt: str = "JPEG") -> Path:
            return make_photo(staging / name, next(seeds), fmt=fmt)

        def clip(name: str) -> Path:
            return make_video(staging / name, next(seeds), seconds=1.0)

        # 1. holiday.zip: photos and H.264/AAC MP4s in two subfolders.
        holiday = [
            ("holiday/beach/IMG_0001.jpg", photo("h1.jpg")),
            ("holiday/beach/IMG_0002.jpg", photo("h2.jpg")),
            ("holiday/beach/IMG_0003.png", photo("h3.png", "PNG")),
            ("holiday/city/IMG_0004.jpg", photo("h4.jpg")),
            ("holiday/city/IMG_0005.jpg", photo("h5.jpg")),
            ("holiday/city/IMG_0006.png", photo("h6.png", "PNG")),
            ("holiday/beach/VID_0001.mp4", clip("h7.mp4")),
            ("holiday/city/VID_0002.mp4", clip("h8.mp4")),
        ]
        paths.append(make_zip(folder / "holiday.zip", holiday))
        description.append("holiday.zip: 6 photos (JPEG, PNG) + 2 H.264/AAC MP4 videos")
        media += len(holiday)

        # 2. trip.tar.gz: nested folders, directory entries, and a readme a library keeps.
        readme = staging / "readme.txt"
        readme.write_text("Photos from the trip. This file is not media.\n")
        for sub in ("a", "a/b", "a/b/c"):
            (staging / "dirs" / sub).mkdir(parents=True, exist_ok=True)
        trip_media = [
            ("trip/a/DSC_0001.jpg", photo("t1.jpg")),
            ("trip/a/b/DSC_0002.jpg", photo("t2.jpg")),
            ("trip/a/b/DSC_0003.png", photo("t3.png", "PNG")),
            ("trip/a/b/c/DSC_0004.jpg", photo("t4.jpg")),
            ("trip/a/b/c/DSC_0005.jpg", photo("t5.jpg")),
            ("trip/a/b/c/MOV_0001.mp4", clip("t6.mp4")),
        ]
        dirs = [(f"trip/{sub}", staging / "dirs" / sub) for sub in ("a", "a/b", "a/b/c")]
        trip = [*dirs, ("trip/readme.txt", readme), *trip_media]
        paths.append(make_tar(folder / "trip.tar.gz", trip, compression="gz"))
        description.append(
            "trip.tar.gz: 5 photos + 1 video in a/b/c, plus readme.txt (not media: kept as a file)"
        )
        media += len(trip_media)

        # 3. loose/: plain files in a folder.
        loose = folder / "loose"
        loose.mkdir(exist_ok=True)
        make_photo(loose / "sunset.jpg", next(seeds))
        make_photo(loose / "harbour.jpg", next(seeds))
        make_photo(loose / "map.png", next(seeds), fmt="PNG")
        make_video(loose / "waves.mp4", next(seeds))
        paths.append(loose)
        description.append("loose/: a folder with 3 photos + 1 MP4 video")
        media += 4

    # 4. Matroska with streams an MP4 can carry: only the container changes.
    paths.append(make_video(folder / "needs-remux.mkv", next(seeds)))
    description.append("needs-remux.mkv: H.264/AAC in Matroska (container change only)")
    media += 1

    # 5. MPEG-4 part 2 in AVI: the codecs themselves must change.
    paths.append(
        make_video(folder / "needs-transcode.avi", next(seeds), vcodec="mpeg4", acodec="mp3")
    )
    description.append("needs-transcode.avi: MPEG-4 part 2 video in AVI (full transcode)")
    media += 1

    # 6. A truncated zip: must be reported, not crash the run.
    paths.append(make_corrupt_zip(folder / "broken.zip", next(seeds)))
    description.append("broken.zip: a truncated zip (should be reported as damaged)")

    return DemoInputs(paths=paths, expected_media=media, description=description, kept_files=1)
