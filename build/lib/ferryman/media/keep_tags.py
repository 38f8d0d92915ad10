"""The recording's date and place, carried from a source video into its converted MP4.

A phone or camera writes when and where a video was taken in its container
(``creation_time``; ``location`` as ISO 6709, the MP4 ``©xyz`` atom). Photo
libraries (Immich, Google Photos, a phone's gallery) sort and map videos by them, so
a remux or transcode that wrote a fresh header put every converted video at the
conversion's date and nowhere. Only these are kept: an encoder's name or a brand
belongs to the file that is written.
"""

from __future__ import annotations

from av.container import InputContainer

# Input tag names (lower case) → the MP4 muxer's name for them.
_KEPT = {
    "creation_time": "creation_time",
    "location": "location",
    "com.apple.quicktime.location.iso6709": "location",
    "com.apple.quicktime.creationdate": "creation_time",
}


def recording_tags(inp: InputContainer) -> dict[str, str]:
    """The date and place ``inp`` says it was recorded, as MP4 tags (maybe none)."""
    kept: dict[str, str] = {}
    for key, value in inp.metadata.items():
        name = _KEPT.get(key.lower())
        if name is not None and value and name not in kept:
            kept[name] = value
    return kept
