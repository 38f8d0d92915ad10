"""Where a Library job's files went (``web.library_view``): read from what the library
sink wrote in either layout, and only files of that job, inside the library's root
(no ``..``, no absolute path, no link out of it) are listed or previewed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.samples import make_photo_set
from ferryman.web.library_view import delivered, folder_of, forget, preview


def _job(settings: Settings, job_id: int = 7, name: str = "trip") -> Job:
    from ferryman.model import JobState

    return Job(job_id, "file:///x.zip", name, "library:", JobState.DONE, 0, None, None, None,
               0, False, 0.0, None)  # fmt: skip


def _item(name: str, kind: str) -> dict[str, object]:
    return {"file": name, "parts": None, "kind": kind, "source_path": name}


def test_a_template_layouts_files_are_its_manifests_placed_paths_inside_the_root(
    settings: Settings, tmp_path: Path
) -> None:
    root = settings.library
    photos = make_photo_set(tmp_path / "in", 1, start_seed=3)
    (root / "trip").mkdir(parents=True)
    (root / "trip" / "a.jpg").write_bytes(photos[0].read_bytes())
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(photos[0].read_bytes())
    (root / "trip" / "out.jpg").symlink_to(outside)
    state = root / ".ferryman" / "trip"
    state.mkdir(parents=True)
    names = ["a.jpg", "out.jpg", "up.jpg", "abs.jpg"]
    placed = ["trip/a.jpg", "trip/out.jpg", "../secret.jpg", str(outside)]
    (state / "0001.json").write_text(
        json.dumps(
            {
                "job": 7,
                "items": [_item(n, "photo") for n in names],
                "placed": [{"stage": f"{i:03d}", "path": p} for i, p in enumerate(placed)],
            }
        )
    )
    (state / "0002.json").write_text(json.dumps({"job": 3, "items": [], "placed": []}))
    job = _job(settings)
    found = delivered(root, job)
    assert [(f.path, f.kind) for f in found] == [("trip/a.jpg", "photo")]
    assert folder_of(found) == "trip"
    assert preview(settings, job, "trip/a.jpg").read_bytes()[8:12] == b"WEBP"
    for path in ("trip/out.jpg", "../secret.jpg", str(outside), "trip/none.jpg"):
        with pytest.raises(FerrymanError) as refused:
            preview(settings, job, path)
        assert refused.value.code == "link.gone"
    assert delivered(root, _job(settings, job_id=8)) == []  # another job of that name
    previews = settings.data_dir / "cache" / "library-previews" / "7"
    assert any(previews.iterdir())
    forget(settings, 7)  # with the job: its previews, not its files
    assert not previews.exists() and (root / "trip" / "a.jpg").is_file()


def test_the_albums_layouts_files_are_listed_from_each_albums_manifest(
    settings: Settings,
) -> None:
    root = settings.library
    for seq, names in ((1, ["a.jpg", "b.mp4"]), (2, ["c.mp3"])):
        album = root / "trip" / f"{seq:04d}"
        album.mkdir(parents=True)
        kinds = {"jpg": "photo", "mp4": "video", "mp3": "audio"}
        items = [_item(n, kinds[n.rpartition(".")[2]]) for n in names]
        (album / "manifest.json").write_text(json.dumps({"job": 7, "items": items}))
        for name in names:
            (album / name).write_bytes(b"x")
    found = delivered(root, _job(settings))
    assert [(f.path, f.kind) for f in found] == [
        ("trip/0001/a.jpg", "photo"),
        ("trip/0001/b.mp4", "video"),
        ("trip/0002/c.mp3", "audio"),
    ]
    assert folder_of(found) == "trip"
