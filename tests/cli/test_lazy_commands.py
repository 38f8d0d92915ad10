"""The root's commands built when asked for (frontdoors/cli/lazy.py) and plain values made
without Pydantic (frontdoors/cli/coercion.py): the same commands, the same help, the same
values and the same errors as Typer's own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.models import ArgumentInfo, OptionInfo
from typer.testing import CliRunner

from ferryman.frontdoors.cli import coercion, lazy
from ferryman.frontdoors.cli.help import _paragraphs
from ferryman.frontdoors.cli.root import app

pytest.importorskip("typer._coercion")  # a Typer with adapters: the coercion is used
from typer._coercion import build_runtime_param, resolve_type_descriptor

ENV = {"FERRYMAN_CONFIG": None, "COLUMNS": "200"}


def test_every_command_is_in_the_table_with_its_own_summary() -> None:
    root: Any = typer.main.get_command(app)
    built = dict(root.commands.items())  # a walk over them builds every one
    assert list(built) == [*lazy.COMMANDS, *lazy.GROUPS]
    for name, command in built.items():
        assert not command.hidden, name
        assert lazy.SUMMARIES[name] == _paragraphs(command.help or "")[0], name
    assert set(lazy.SUMMARIES) == set(built)


def test_root_help_lists_the_summaries_without_building_a_command() -> None:
    root: Any = typer.main.get_command(app)
    shown = CliRunner().invoke(app, ["--help"], env=ENV, prog_name="ferryman")
    assert shown.exit_code == 0, shown.output
    assert "  status      The newest jobs with their state and item counts" in shown.stdout
    assert root.commands._built == {}  # nothing was built for it


def test_a_command_is_built_once_and_alone() -> None:
    root: Any = typer.main.get_command(app)
    first = root.get_command(None, "report")
    assert root.get_command(None, "report") is first
    assert list(root.commands._built) == ["report"]
    assert root.get_command(None, "nosuch") is None


def test_an_unknown_command_is_still_suggested_the_near_one() -> None:
    told = CliRunner().invoke(app, ["stauts"], env=ENV, prog_name="ferryman")
    assert told.exit_code == 2
    assert "No such command 'stauts'" in told.stderr
    assert "status" in told.stderr


class _Param:
    """What a coercion reads of its parameter: its type, as Typer resolved it."""

    def __init__(self, descriptor: Any) -> None:
        self.type_descriptor = descriptor
        self._runtime_param: Any = None


def _both(annotation: Any, info: Any, value: Any) -> tuple[Any, Any]:
    """``value`` made by this module's coercion and by Typer's own: a value, or the
    error's words."""
    descriptor = resolve_type_descriptor(annotation, info)
    param = _Param(descriptor)
    coercion.light([param])  # given this module's coercion where it applies
    ours = param._runtime_param or build_runtime_param(descriptor)
    said = []
    for runtime in (ours, build_runtime_param(descriptor)):
        try:
            said.append(runtime._coerce_value(value, param=_Param(descriptor), ctx=None))
        except typer.BadParameter as exc:
            said.append(("error", exc.message))
    return said[0], said[1]


NUMBER = OptionInfo(min=-5, max=5)


@pytest.mark.parametrize(
    ("annotation", "info", "value"),
    [
        (int, NUMBER, "3"),
        (int, NUMBER, "-5"),
        (int, NUMBER, "6"),  # past its bound: Typer's error
        (int, NUMBER, "x"),
        (int, NUMBER, " 4"),
        (int, NUMBER, "007"),
        (int, OptionInfo(), 2),  # a count (-vv)
        (int, OptionInfo(min=0, clamp=True), "-3"),
        (str, OptionInfo(), "café [b] `x`"),
        (bool, OptionInfo(), True),
        (list[str], ArgumentInfo(), ("a", "b")),
        (Path, OptionInfo(), "some/where/new"),
        (Path, OptionInfo(), "."),
        (Path, OptionInfo(), "a//b/"),
        (Path, OptionInfo(exists=True), "no/such/path"),
    ],
)
def test_a_value_is_made_as_typer_makes_it(annotation: Any, info: Any, value: Any) -> None:
    ours, typers = _both(annotation, info, value)
    assert ours == typers
    assert type(ours) is type(typers)


def test_a_path_that_may_not_be_read_gets_typer_s_words(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = tmp_path / "locked"
    locked.write_bytes(b"")
    locked.chmod(0)
    ours, typers = _both(Path, OptionInfo(), str(locked))
    assert ours == typers
    assert ours[0] == "error"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(st.text(max_size=24), st.from_regex(r"-?[0-9]{1,25}", fullmatch=True)))
def test_any_number_typed_is_made_or_refused_as_typer_does(typed: str) -> None:
    ours, typers = _both(int, NUMBER, typed)
    assert ours == typers
    ours, typers = _both(int, OptionInfo(), typed)
    assert ours == typers


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_taken_as_typer_takes_it(typed: str) -> None:
    assert _both(str, OptionInfo(), typed) == (typed, typed)


def test_only_plain_parameters_are_given_the_coercion() -> None:
    plain = _Param(resolve_type_descriptor(Path, OptionInfo()))
    checked = _Param(resolve_type_descriptor(Path, OptionInfo(exists=True)))
    parsed = _Param(resolve_type_descriptor(int, OptionInfo(parser=int)))
    coercion.light([plain, checked, parsed])
    assert isinstance(plain._runtime_param, coercion._Light)
    assert checked._runtime_param is None  # Typer's own, built when used
    assert parsed._runtime_param is None
