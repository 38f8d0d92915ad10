"""What happens to a staged file, as a table: kind, size, probe and options in, the
action, the kind it goes as, its plan and its reason out (``engine/read/decision``,
pure: nothing is read, written or decoded here)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.engine.read.decision import Action, Decision, after_probe, before_probe
from ferryman.media.policy import MIB, MP4_FAMILY, TELEGRAM
from ferryman.model import MediaInfo, MediaKind, Plan

TG = MediaOptions(TELEGRAM)
AS_FILES = replace(TG, as_documents=True)
SCALE = replace(TG, oversize="scale")
SMALL = 1000
HUGE = 3000 * MIB  # over Telegram's 2000 MiB a file
K = MediaKind

PLAIN_MP4 = MediaInfo(
    container=MP4_FAMILY,
    video_codec="h264",
    audio_codec="aac",
    pix_fmt="yuv420p",
    width=640,
    height=360,
    duration=60.0,
    faststart=True,
)
JPEG = MediaInfo(container="JPEG", width=800, height=600, image_mode="RGB", size=SMALL)


@pytest.mark.parametrize(
    ("kind", "size", "send_documents", "options", "expected"),
    [
        (K.DOCUMENT, SMALL, False, TG, Decision(Action.SKIP, K.DOCUMENT, None, "not_media")),
        (K.ARCHIVE, SMALL, False, TG, Decision(Action.SKIP, K.ARCHIVE, None, "not_media")),
        (K.DOCUMENT, SMALL, True, TG, Decision(Action.DOCUMENT, K.DOCUMENT, Plan.DOCUMENT)),
        (K.OTHER, SMALL, True, TG, Decision(Action.DOCUMENT, K.OTHER, Plan.DOCUMENT)),
        (K.PHOTO, SMALL, False, TG, Decision(Action.PROBE, K.PHOTO, Plan.AS_IS)),
        (K.AUDIO, SMALL, False, TG, Decision(Action.PROBE, K.AUDIO, Plan.AS_IS)),
        (
            K.VIDEO,
            SMALL,
            False,
            AS_FILES,
            Decision(Action.DOCUMENT, K.VIDEO, Plan.DOCUMENT, "as=documents"),
        ),
        # ?as=documents, but over the limit even as a file: fixed as ever
        (K.VIDEO, HUGE, False, AS_FILES, Decision(Action.PROBE, K.VIDEO, Plan.AS_IS)),
        # audio is no picture: ?as=documents leaves it media
        (K.AUDIO, SMALL, False, AS_FILES, Decision(Action.PROBE, K.AUDIO, Plan.AS_IS)),
    ],
)
def test_before_the_probe(
    kind: MediaKind, size: int, send_documents: bool, options: MediaOptions, expected: Decision
) -> None:
    assert before_probe(kind, size, send_documents, options) == expected


@pytest.mark.parametrize(
    ("kind", "info", "size", "options", "expected"),
    [
        (K.VIDEO, PLAIN_MP4, SMALL, TG, Decision(Action.VIDEO, K.VIDEO, Plan.AS_IS)),
        (
            K.VIDEO,
            replace(PLAIN_MP4, container="matroska,webm"),
            SMALL,
            TG,
            Decision(Action.VIDEO, K.VIDEO, Plan.REMUX, "container=matroska,webm"),
        ),
        (
            K.VIDEO,
            replace(PLAIN_MP4, video_codec="hevc"),
            SMALL,
            TG,
            Decision(Action.CONVERT, K.VIDEO, Plan.TRANSCODE, "video_codec=hevc"),
        ),
        (
            K.VIDEO,
            replace(PLAIN_MP4, audio_codec="opus"),
            SMALL,
            TG,
            Decision(Action.CONVERT, K.VIDEO, Plan.AUDIO, "audio_codec=opus"),
        ),
        # sound alone in a video's container: a song
        (
            K.VIDEO,
            replace(PLAIN_MP4, video_codec=None),
            SMALL,
            TG,
            Decision(Action.SONG, K.AUDIO, Plan.AS_IS),
        ),
        # too big: split after its cheap fix; or shrunk, when the settings say scale
        (
            K.VIDEO,
            replace(PLAIN_MP4, size=HUGE),
            HUGE,
            TG,
            Decision(Action.VIDEO, K.VIDEO, Plan.AS_IS),
        ),
        (
            K.VIDEO,
            replace(PLAIN_MP4, size=HUGE),
            HUGE,
            SCALE,
            Decision(Action.CONVERT, K.VIDEO, Plan.TRANSCODE, f"size={HUGE}>{2000 * MIB}"),
        ),
        (K.PHOTO, JPEG, SMALL, TG, Decision(Action.AS_IS, K.PHOTO, Plan.AS_IS)),
        (
            K.PHOTO,
            replace(JPEG, container="WEBP"),
            SMALL,
            TG,
            Decision(Action.FIT_IMAGE, K.PHOTO, Plan.IMAGE, "format=WEBP"),
        ),
        (
            K.PHOTO,
            replace(JPEG, width=100, height=5000),
            SMALL,
            TG,
            Decision(Action.DOCUMENT, K.PHOTO, Plan.DOCUMENT, "aspect=50.0>20"),
        ),
        # a photo of many frames goes as an animation
        (
            K.PHOTO,
            replace(JPEG, container="GIF", frames=12),
            SMALL,
            TG,
            Decision(Action.CONVERT, K.ANIMATION, Plan.ANIMATION),
        ),
        (
            K.PHOTO,
            replace(JPEG, container="TIFF", pages=3),
            SMALL,
            TG,
            Decision(Action.PAGES, K.PHOTO, Plan.IMAGE, "pages=3"),
        ),
        (
            K.PHOTO,
            replace(JPEG, container="TIFF", pages=500),
            SMALL,
            TG,
            Decision(Action.DOCUMENT, K.PHOTO, Plan.DOCUMENT, "pages=500>100"),
        ),
        (
            K.AUDIO,
            MediaInfo(audio_codec="mp3"),
            SMALL,
            TG,
            Decision(Action.SONG, K.AUDIO, Plan.AS_IS),
        ),
        # a song too big even as a file: a document (quarantined as over the limit)
        (
            K.AUDIO,
            MediaInfo(audio_codec="flac"),
            HUGE,
            TG,
            Decision(Action.DOCUMENT, K.AUDIO, Plan.DOCUMENT),
        ),
    ],
)
def test_after_the_probe(
    kind: MediaKind, info: MediaInfo, size: int, options: MediaOptions, expected: Decision
) -> None:
    assert after_probe(kind, info, size, options) == expected


def test_a_photo_within_its_rules_but_over_the_file_limit_is_fitted() -> None:
    tiny_cap = replace(TG, policy=replace(TELEGRAM, max_file_bytes=500))
    decided = after_probe(K.PHOTO, JPEG, SMALL, tiny_cap)
    assert decided == Decision(Action.FIT_IMAGE, K.PHOTO, Plan.IMAGE, f"size={SMALL}>500")
