"""Every command's ``--help`` reads like a well-kept CLI's: no type tags such as
``<bool>``, no ``{job}`` or ``[[PASSWORD]]`` in usage lines, every argument and option
described; a job that is not a number gets one line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app

ENV = {"FERRYMAN_CONFIG": None, "COLUMNS": "80"}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=ENV, prog_name="ferryman")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"add", "report", "password", "web", "telegram login", "config set"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_help_has_no_artefacts(path: tuple[str, ...]) -> None:
    shown = invoke(*path, "--help")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: ferryman"), text
    artefacts = ("<bool>", "<str>", "<int>", "<list", "<path>", "[[", "]]", "╭", "│", "``")
    for artefact in artefacts:  # `` is a docstring's reST, not a help's words
        assert artefact not in text, f"{artefact!r} in the help of {path}:\n{text}"
    assert not re.search(r"[{}]", usage), usage
    # Metavars are capitals: JOB, PATH..., [PASSWORD]; never the parameter's own name.
    for piece in usage.split()[2 + len(path) :]:
        assert piece == piece.upper() or piece in ("[OPTIONS]",), usage
    assert re.search(r"^  -h, --help\s+Show this message and exit\.$", text, re.M), text


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_every_parameter_is_described(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    for param in command.params:
        assert (param.help or "").strip(), f"{param.name} of `ferryman {' '.join(path)}`"


def test_usage_lines_name_what_they_take() -> None:
    def usage(*path: str) -> str:
        return invoke(*path, "--help").stdout.splitlines()[0]

    assert usage("add") == "Usage: ferryman add [OPTIONS] [PATH...]"  # or -a FILE
    assert usage("password") == "Usage: ferryman password [OPTIONS] JOB [PASSWORD]"
    assert usage("report") == "Usage: ferryman report [OPTIONS] JOB"
    assert usage("web") == "Usage: ferryman web [OPTIONS] [COMMAND]"
    assert "--to DEST" in invoke("add", "--help").stdout


@pytest.mark.parametrize("command", ["report", "pause", "resume", "cancel", "retry", "remove"])
def test_a_job_that_is_not_a_number_gets_one_line(command: str) -> None:
    told = invoke(command, "abc")
    assert told.exit_code == 2
    assert told.stderr.splitlines() == [
        "job must be a number (see `ferryman status`), not 'abc'"
    ], told.stderr
    assert told.stdout == ""


def test_a_missing_job_is_a_plain_usage_error() -> None:
    told = invoke("report")
    assert told.exit_code == 2
    assert "Usage: ferryman report [OPTIONS] JOB" in told.stderr
    assert "Missing argument 'JOB'" in told.stderr and "╭" not in told.stderr


def test_usage_errors_name_arguments_as_usage_lines_do_in_plain_words() -> None:
    missing = invoke("drain")
    assert missing.exit_code == 2 and "Missing argument 'NODE'." in missing.stderr
    bad = invoke("add", "--priority", "x", "a.jpg")
    assert bad.exit_code == 2
    assert "Invalid value for '--priority': must be a whole number" in bad.stderr
    assert "Input should be" not in bad.stderr


def test_watch_add_defaults_its_destination_and_names_what_each_option_takes(
    tmp_path: Any,
) -> None:
    """`watch add` takes `--to` as `add` does (default library:) and its help shows what
    each option takes (`--to DEST`, `--every PERIOD`), not the option's name again."""
    shown = CliRunner().invoke(app, ["watch", "add", "--help"]).output
    for said in ("--to DEST", "--every PERIOD", "--window HH:MM-HH:MM", "--since WHEN"):
        assert said in shown, shown
    assert "--to TO" not in shown and "--every EVERY" not in shown
    added = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "d"), "watch", "add", "--kind", "feed", "http://h/x.xml"],
        env={"FERRYMAN_CONFIG": None},
    )
    assert added.exit_code == 0, added.output
    assert "→ library:," in added.output


def test_a_counted_option_shows_no_value_and_no_default() -> None:
    """`-v`/`-vv` is counted: its help line must not read as if it took a value
    (`-v, --verbose VERBOSE  [default: 0]` made `-v 2` look right)."""
    shown = invoke("--help").stdout
    line = next(row for row in shown.splitlines() if "--verbose" in row)
    assert re.match(r"^  -v, --verbose\s+Log more", line), line
    assert "VERBOSE" not in shown and "[default: 0]" not in line


def test_run_until_idles_help_gives_every_exit_it_can_end_with() -> None:
    """It said "Exit 0 once every job has ended", and exits 1 after a failed job, 3
    while one waits for a password (the exit codes' table: docs/cli.md)."""
    shown = " ".join(invoke("run", "--help").stdout.split())
    assert "Exit 0 once" not in shown
    assert "0 all delivered, 1 a job failed, 3 one waits on you" in shown, shown


def test_config_option_names_the_default_settings_file() -> None:
    """--config's help said "ferryman.toml to read", as if that name were read by itself."""
    shown = " ".join(invoke("--help").stdout.split())
    assert "ferryman.toml" not in shown
    assert "else $FERRYMAN_CONFIG, else ~/.config/ferryman/config.toml" in shown


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_a_default_is_said_once(path: tuple[str, ...]) -> None:
    """`--every PERIOD  How often to look: … 1h (default), 1d.  [default: 1h]`."""
    shown = " ".join(invoke(*path, "--help").stdout.split())
    for said in re.findall(r"\(default[^)]*\)[^[]*?\[default: ", shown):
        raise AssertionError(f"a default said twice in `ferryman {' '.join(path)}`: {said}")
