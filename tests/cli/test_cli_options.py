"""`add` and `watch add` take the options they share from one definition
(``frontdoors/cli/options.py``): the same names, metavars, help and defaults, and the
same meaning (``--convert`` is the destination's ``convert=yes`` for both)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from ferryman.frontdoors.cli.options import Destination, Notices, Output, group_parameters
from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo

SHARED = [p.name for group in (Destination, Output, Notices) for p in group_parameters(group)]


def _options(command: Any) -> dict[str, dict[str, object]]:
    """A command's options as Click built them (Typer's own Click: read by duck type)."""
    return {
        p.name: {"opts": p.opts, "metavar": p.metavar, "help": p.help, "default": p.default}
        for p in command.params
        if p.param_type_name == "option"
    }


def test_add_and_watch_add_accept_the_same_shared_options() -> None:
    root: Any = typer.main.get_command(app)
    add, watch_add = root.commands["add"], root.commands["watch"].commands["add"]
    of_add, of_watch = _options(add), _options(watch_add)
    shared = {"to", "convert", "media_only", "quality", "audio", "bitrate", "mute", "notify"}
    assert set(SHARED) == shared
    for name in SHARED:
        assert of_add[name] == of_watch[name], name


def test_convert_is_the_destination_s_option_for_add_and_for_a_watch(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    folder = tmp_path / "Camera"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    runner = CliRunner()
    added = runner.invoke(app, [*data, "--json", "add", str(folder / "a.jpg"), "--convert"])
    assert added.exit_code == 0, added.output
    assert "convert=yes" in json.loads(added.output.splitlines()[0])["job"]["dest"]
    watched = runner.invoke(app, [*data, "watch", "add", str(folder), "--convert"])
    assert watched.exit_code == 0, watched.output
    listed = runner.invoke(app, [*data, "watch", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "convert=yes" in json.loads(listed.output)["watches"][0]["dest"]


def test_media_only_is_the_destination_s_option_for_add_and_for_a_watch(tmp_path: Path) -> None:
    """`--media-only` (issue 79): the library keeps media alone, carried as
    ``media=only`` in the job's destination, beside ``--convert``'s option."""
    data = ["--data-dir", str(tmp_path / "data")]
    folder = tmp_path / "Camera"
    folder.mkdir()
    make_photo(folder / "a.jpg", 1)
    runner = CliRunner()
    args = ["--media-only", "--convert"]
    added = runner.invoke(app, [*data, "--json", "add", str(folder / "a.jpg"), *args])
    assert added.exit_code == 0, added.output
    dest = json.loads(added.output.splitlines()[0])["job"]["dest"]
    assert dest.endswith("?convert=yes&media=only"), dest
    watched = runner.invoke(app, [*data, "watch", "add", str(folder), "--media-only"])
    assert watched.exit_code == 0, watched.output
    listed = runner.invoke(app, [*data, "watch", "list", "--json"])
    assert "media=only" in json.loads(listed.output)["watches"][0]["dest"]
