"""rclone's connection strings against real rclone (its local backend, ``rclone serve
webdav`` on loopback), as the machine's own user gives them: an album delivered to an
on-the-fly ``:local:`` and to a named remote with parameters overriding its config, read
back, "already there" on a second run; an input on an on-the-fly ``:webdav,url=…:``;
a watch of an on-the-fly folder, its files moved to another once delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.errors import FerrymanError
from ferryman.net.rclone_path import quoted
from ferryman.samples import make_zip
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.listers.rclone import RcloneLister
from ferryman.store import Store
from tests.sinks.test_rclone_kill import _count, _killed_then_run
from tests.sinks.test_rclone_sink import (
    BINARY,
    TREE,
    _config,
    _deliver,
    _fetched,
    _photos,
    _settings,
    _sha,
    _tree,
    pytestmark,
    sftp_remote,
)
from tests.sources.test_rclone_source import _library, _run
from tests.support.rclone_serve import serve

__all__ = ["pytestmark", "sftp_remote"]


def _on_the_fly(part: str) -> str:
    """A served remote's config part (``tests/support/rclone_serve``) as an on-the-fly
    ``:backend,key=value…`` with no rclone.conf (a value holding ``:`` quoted)."""
    conf = dict(line.split(" = ", 1) for line in part.splitlines() if " = " in line)
    backend = conf.pop("type")
    return f":{backend}" + "".join(f",{k}={quoted(v)}" for k, v in conf.items())


async def test_an_album_goes_to_an_on_the_fly_local_backend_and_is_there_once(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "empty.conf"
    conf.write_text("")  # no remote at all: the backend is made from the string
    remote = tmp_path / "remote"
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    dest = f"rclone::local:{remote}/Photos"
    job_id = await _deliver(_settings(tmp_path, conf), archive, dest)
    want = {f"Photos/trip/{name}": _sha(path) for name, path in entries}
    assert _tree(remote) == want
    store = await Store.open(_settings(tmp_path, conf).database)
    try:
        assert (await store.get_job(job_id)).dest == dest  # recorded as typed
    finally:
        await store.close()
    before = {p: p.stat().st_mtime_ns for p in remote.rglob("*.jpg")}
    await _deliver(_settings(tmp_path, conf, "two"), archive, dest)  # already there
    assert _tree(remote) == want
    assert {p: p.stat().st_mtime_ns for p in remote.rglob("*.jpg")} == before


async def test_parameters_override_a_named_remotes_config(tmp_path: Path) -> None:
    """``loc,links:`` (a flag) and ``dav,url='…':`` (a value holding ``:``): the remote
    part reaches rclone intact, its parameters over the config's (the config's url is
    a port nothing listens on)."""
    assert BINARY is not None
    remote = tmp_path / "remote"
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    await _deliver(_settings(tmp_path, _config(tmp_path)), archive, f"rclone:loc,links:{remote}")
    assert _tree(remote) == {f"trip/{name}": _sha(path) for name, path in entries}

    served = tmp_path / "served"
    served.mkdir()
    with serve(BINARY, "webdav", served, "dav") as part:
        url = next(line.split(" = ")[1] for line in part.splitlines() if line.startswith("url"))
        wrong = part.replace(url, "http://127.0.0.1:9/")
        conf = _config(tmp_path, wrong)
        dest = f"rclone:dav,url='{url}':Photos"
        await _deliver(_settings(tmp_path, conf, "dav"), archive, dest)
        want = {f"Photos/trip/{name}": _sha(path) for name, path in entries}
        assert _tree(served) == want
        # Read back through the same string with a plain rclone: the same bytes.
        got = _fetched(conf, f"dav,url='{url}':Photos", tmp_path / "got")
        assert _tree(got) == {f"trip/{name}": _sha(path) for name, path in entries}


async def test_an_input_on_an_on_the_fly_webdav_is_fetched_and_read(tmp_path: Path) -> None:
    assert BINARY is not None
    served = tmp_path / "served"
    (served / "in").mkdir(parents=True)
    entries = _photos(tmp_path / "pics", TREE)
    make_zip(served / "in" / "trip.zip", entries)
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    with serve(BINARY, "webdav", served, "dav") as part:
        source = f"rclone:{_on_the_fly(part)}:in/trip.zip"
        state, code, library = await _run(tmp_path, empty, source)
    assert (state.value, code) == ("done", None)
    assert _library(library) == {_sha(p) for _, p in entries}


async def test_a_watch_of_an_on_the_fly_folder_lists_inputs_its_source_reads(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    settings = _settings(tmp_path, empty)
    folder = tmp_path / "camera"
    entries = _photos(folder, ["a.jpg"])
    watched = f"rclone::local:{folder}"
    lister = RcloneLister(clock=lambda: 4e9)
    (entry,) = await lister.entries(watched, settings)
    assert entry.input == f"rclone::local:{folder}/{entries[0][1].name}"
    then = lister.checked_after(watched, f"move::local:{tmp_path}/done", settings, remote=False)
    assert then == f"move::local:{tmp_path}/done"
    state, code, library = await _run(tmp_path, empty, entry.input)
    assert (state.value, code) == ("done", None)
    assert _library(library) == {_sha(entries[0][1])}
    said = await lister.tidy_after(watched, entry, then, None, settings)  # delivered: moved
    assert said is not None and said.startswith("moved")
    assert [p.name for p in (tmp_path / "done").iterdir()] == [entries[0][1].name]
    assert not entries[0][1].exists()


def test_an_on_the_fly_backend_rclone_lacks_is_refused_when_added(tmp_path: Path) -> None:
    """Refused now, nothing recorded, naming the backends there are; an override of a
    remote the config lacks, as a plain name is (``rclone.no_remote``)."""
    settings = _settings(tmp_path, _config(tmp_path))
    sinks = default_sinks()
    sinks.check_ready(settings, "rclone::local:/tmp/x")  # a backend it has: taken
    sinks.check_ready(settings, "rclone:loc,links:/tmp/x")
    for dest in ("rclone::nosuch:/tmp/x", "rclone:nosuch,links:/tmp/x"):
        with pytest.raises(FerrymanError) as caught:
            sinks.check_ready(settings, dest)
        assert caught.value.code == "rclone.no_remote", dest
    with pytest.raises(FerrymanError) as caught:
        sinks.check_ready(settings, "rclone::nosuch:/tmp/x")
    assert "webdav" in (caught.value.step or "") and "local" in (caught.value.step or "")


@pytest.mark.slow
async def test_sigkill_mid_album_on_an_on_the_fly_sftp_box_leaves_no_duplicate_object(
    tmp_path: Path, sftp_remote: tuple[Path, str]
) -> None:
    """Exactly once as with a named remote: the sftp backend writes an object under its
    own name as it goes; killed mid-album and run again, each name there once, whole."""
    served, part = sftp_remote
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    dest = f"rclone:{_on_the_fly(part)}:backup"
    want = await _killed_then_run(tmp_path, empty, dest, _count(served / "backup"))
    assert _tree(served / "backup") == want
