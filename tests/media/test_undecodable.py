"""A picture no decoder here reads (a JPEG cut short, a HEIC whose boxes are damaged, a
camera's file Pillow does not know) is held back in quarantine only where it could not
go anyway. A backup (a library, a remote) decodes nothing and keeps it as it is, a
file, its code the reason; Telegram sends it as a file where files go
(``send_documents``), as it does any other file, and else quarantines it as before.

Real bytes: JPEG and HEIC written by Pillow and pillow-heif, then cut or damaged; the
preparation the engine runs, with its decodes in this process.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing.media_options import MediaOptions, options_for
from ferryman.engine.read.prepare import Prepared, prepare
from ferryman.engine.read.stage import Staged
from ferryman.media.policy import LIBRARY, TELEGRAM
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.sinks.builtin import default_sinks
from tests.support.image_corpus import heif, picture, save, truncated


def _broken() -> dict[str, bytes]:
    whole_heic = heif(picture((160, 120)))
    return {
        "cut.jpg": truncated(save(picture((400, 300)), "JPEG"), 0.5),
        "noise.jpg": b"\xff\xd8\xff\xe0" + os.urandom(4000),
        "damaged.heic": whole_heic[:24] + os.urandom(len(whole_heic) - 24),
        "IMG_0001.ORF": b"IIRO\x08\x00\x00\x00" + os.urandom(3000),  # no TIFF Pillow opens
    }


def _prepared(
    tmp_path: Path, name: str, data: bytes, documents: bool, options: MediaOptions
) -> tuple[Path, Prepared]:
    path = tmp_path / name
    path.write_bytes(data)
    staged = Staged(path, len(data), hashlib.sha256(data).hexdigest(), MediaKind.PHOTO)
    return path, prepare(staged, documents, options)


@pytest.mark.parametrize("name", list(_broken()))
def test_a_backup_keeps_a_picture_nothing_decodes_as_it_is(tmp_path: Path, name: str) -> None:
    data = _broken()[name]
    backup = MediaOptions(LIBRARY, keeps_undecoded=True)
    path, done = _prepared(tmp_path, name, data, False, backup)
    if done.plan is Plan.AS_IS:  # its header read whole (a cut JPEG): not decoded at all
        assert name == "cut.jpg" and done.state is ItemState.READY
    else:
        assert (done.state, done.plan) == (ItemState.READY, Plan.DOCUMENT)
        assert (done.reason or "").startswith("media.unreadable: ")
    assert done.work_path == path and path.read_bytes() == data  # the bytes, untouched
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert done.error is None and not done.parts


@pytest.mark.parametrize("name", ["noise.jpg", "damaged.heic", "IMG_0001.ORF"])
def test_telegram_sends_it_as_a_file_only_where_files_go(tmp_path: Path, name: str) -> None:
    data = _broken()[name]
    _, held = _prepared(tmp_path, f"held-{name}", data, False, MediaOptions(TELEGRAM))
    assert (held.state, held.plan, held.reason) == (
        ItemState.QUARANTINED,
        Plan.QUARANTINE,
        "media.unreadable",
    )
    path, sent = _prepared(tmp_path, name, data, True, MediaOptions(TELEGRAM))
    assert (sent.state, sent.plan) == (ItemState.READY, Plan.DOCUMENT)
    assert (sent.reason or "").startswith("media.unreadable: ") and sent.work_path == path


def test_a_file_over_the_limit_even_as_a_file_stays_in_quarantine(tmp_path: Path) -> None:
    """Offered as a file and refused for its size: kept back, not offered twice."""
    small = MediaOptions(replace(TELEGRAM, max_file_bytes=1000))
    _, done = _prepared(tmp_path, "noise.jpg", _broken()["noise.jpg"], True, small)
    assert (done.state, done.reason) == (ItemState.QUARANTINED, "media.over_limit")


def test_only_the_backups_keep_what_they_cannot_decode(settings: Settings) -> None:
    sinks = default_sinks()
    kept = {
        scheme: options_for(settings, sinks.kind(f"{scheme}:x")).keeps_undecoded
        for scheme in ("library", "rclone", "telegram", "link")
    }
    assert kept == {"library": True, "rclone": True, "telegram": False, "link": False}
