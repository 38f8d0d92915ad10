"""The classes a newcomer trips over, walked over the whole command tree: every command
takes ``--json`` (before or after it, as `ferryman --help` says) and answers a script in
JSON, and every command's help page renders with a usage line that reads as one.

A command added later without a case here fails ``test_every_command_has_a_json_case``:
its ``--json`` has to be thought about, not ignored."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = getattr(command, "commands", None) or {}
    if not subs or getattr(command, "invoke_without_command", False):
        yield path  # a command, or a group that is one itself (`web` serves)
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


LEAVES = [p for p in _leaves(typer.main.get_command(app)) if p]

# Each command's words after its name; PHOTO, FOLDER and PORT are filled in. A command
# that needs what a test cannot give here (an account at Telegram, a free editor) is
# run to its coded refusal, which `--json` must give as JSON as well.
CASES: dict[tuple[str, ...], list[str]] = {
    ("add",): ["PHOTO"],
    ("run",): ["--until-idle"],
    ("status",): [],
    ("report",): ["1"],
    ("links",): ["1"],
    ("workers",): [],
    ("drain",): ["elsewhere"],
    ("pause",): ["1"],
    ("resume",): ["1"],
    ("cancel",): ["1"],
    ("retry",): ["1"],
    ("remove",): ["1"],
    ("password",): ["1", "secret"],
    ("doctor",): [],
    # An empty folder for its only index: nothing newer, nothing installed here.
    ("update",): ["--check", "--no-index", "--find-links", "FOLDER"],
    ("demo",): ["--data-dir", "PHOTO"],  # a file for a data dir: its coded refusal
    ("docs",): ["web"],
    ("completion",): ["bash"],
    ("config", "path"): [],
    ("config", "init"): [],
    ("config", "edit"): [],
    ("config", "show"): [],
    ("config", "set"): ["space_floor", "2GB"],
    ("config", "unset"): ["space_floor"],
    ("quarantine", "list"): [],
    ("preset", "add"): ["pod", "--audio", "mp3"],
    ("preset", "list"): [],
    ("preset", "remove"): ["none-such"],  # not one of yours: its coded refusal
    ("telegram", "login"): [],
    ("telegram", "whoami"): [],
    ("telegram", "logout"): [],
    ("telegram", "serve"): [],
    ("telegram", "demo"): [],
    ("service", "install"): ["--print", "--command", "run"],
    ("service", "uninstall"): ["--name", "ferryman-none"],
    ("web",): ["--port", "PORT"],  # a port in use: its coded refusal
    ("web", "token"): [],
    ("user", "add"): ["bea", "--password", "a long password"],
    ("user", "list"): [],
    ("user", "remove"): ["ann"],
    ("user", "reset"): ["ann", "--password", "another long password"],
    ("user", "set"): ["ann", "--library", "FOLDER"],
    ("user", "rclone"): ["ann"],
    ("watch", "add"): ["FOLDER"],
    ("watch", "list"): [],
    ("watch", "check"): [],
    ("watch", "pause"): ["1"],
    ("watch", "resume"): ["1"],
    ("watch", "remove"): ["1"],
}


def test_every_command_has_a_json_case() -> None:
    assert sorted(LEAVES) == sorted(CASES), set(LEAVES) ^ set(CASES)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A home, a data dir holding job 1, watch 1 and account ann, and a port in use."""
    root = tmp_path_factory.mktemp("every")
    photo = make_photo(root / "photo.jpg", 1)
    folder = root / "folder"
    folder.mkdir()
    env = {
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "home" / ".config"),
        "FERRYMAN_CONFIG": None,
        "FERRYMAN_PASSWORD": None,
        "EDITOR": "true",
        "VISUAL": "true",
        "COLUMNS": "100",
    }
    data = root / "data"
    for words in (
        ["add", str(photo)],
        ["watch", "add", str(folder)],
        ["user", "add", "ann", "--password", "a long password"],
    ):
        done = CliRunner().invoke(app, ["--data-dir", str(data), *words], env=env)
        assert done.exit_code == 0, done.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield {
            "env": env,
            "data": data,
            "PHOTO": str(photo),
            "FOLDER": str(folder),
            "PORT": str(taken.getsockname()[1]),
        }


def _json_lines(text: str) -> list[Any]:
    """``text`` as JSON: one document (indented) or one object a line."""
    text = text.strip()
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("before", [False, True], ids=["after", "before"])
@pytest.mark.parametrize("path", sorted(CASES), ids=lambda p: " ".join(p))
def test_every_command_answers_json(
    place: dict[str, Any], path: tuple[str, ...], before: bool
) -> None:
    """`--json` before or after the command: what it says on stdout is JSON, and a
    refusal is a JSON error (never a line of prose a script cannot read)."""
    words = [place.get(w, w) for w in CASES[path]]
    where = ["--data-dir", str(place["data"])]
    if words[:1] == ["--data-dir"]:  # the case names its own
        where, words = words[:2], words[2:]
    asked = [*where, "--json", *path, *words] if before else [*where, *path, *words, "--json"]
    done = CliRunner().invoke(app, asked, env=place["env"])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    said = done.stdout.strip()
    if done.exit_code == 0:
        assert said, f"`ferryman {' '.join(asked)}` said nothing on stdout"
        assert _json_lines(said), said
        return
    # A refusal: its JSON answer on stdout (`remove`: what was refused), else a JSON
    # error on stderr.
    if said:
        assert _json_lines(said), said
        return
    errors = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any("error" in e for e in errors), done.stderr


HELP_PIECE = re.compile(
    r"\[OPTIONS\]|COMMAND|\[ARGS\]\.\.\.|\[COMMAND\]|\[?[A-Z][A-Z_]*(\.\.\.)?\]?"
)


@pytest.mark.parametrize("path", LEAVES, ids=lambda p: " ".join(p))
def test_every_help_page_renders(path: tuple[str, ...]) -> None:
    """Each piece of a usage line is one of OPTIONS, NAME, NAME..., [NAME] or [NAME...]
    (`Usage: ferryman status [OPTIONS] [JOB]......]` was none), and the page names the
    output options every command takes."""
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert shown.exit_code == 0, shown.output
    usage = shown.stdout.splitlines()[0]
    for piece in usage.split()[2 + len(path) :]:
        assert HELP_PIECE.fullmatch(piece), f"{piece!r} in {usage!r}"
    assert "--json" in shown.stdout, shown.stdout
    # A page names no file of the source tree: `pip install` carries no docs/ folder.
    assert not re.search(r"docs/\S+\.md", shown.stdout), shown.stdout
    from ferryman.frontdoors.cli.docs import shipped  # lazy: the topics the package carries

    for topic in re.findall(r"ferryman docs ([\w-]+)", shown.stdout):
        assert topic in shipped(), f"`ferryman docs {topic}` in {' '.join(path)}'s help"


def _groups(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = getattr(command, "commands", None) or {}
    if subs and path and not getattr(command, "invoke_without_command", False):
        yield path
    for name, sub in subs.items():
        yield from _groups(sub, (*path, name))


@pytest.mark.parametrize("before", [False, True], ids=["after", "before"])
@pytest.mark.parametrize("path", LEAVES, ids=lambda p: " ".join(p))
def test_a_usage_error_under_json_is_one_json_error(path: tuple[str, ...], before: bool) -> None:
    """An unknown option under `--json` is the error a script reads (`cli.usage`, exit
    2), not Click's lines of prose; without `--json` it is those lines, as before."""
    words = [*path, "--no-such-option"]
    asked = ["--json", *words] if before else [*words, "--json"]
    done = CliRunner().invoke(app, asked, env={"COLUMNS": "100"})
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] == "cli.usage"
    assert "--no-such-option" in error["message"]
    # CliRunner names the program `root`; a shell, `ferryman`.
    assert error["next"] == f"Run `root {' '.join(path)} -h` to see what it takes."
    plain = CliRunner().invoke(app, words, env={"COLUMNS": "100"})
    assert plain.exit_code == 2
    assert "No such option: --no-such-option" in plain.stderr
    assert not plain.stderr.lstrip().startswith("{")


GROUPS = list(_groups(typer.main.get_command(app)))


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p))
def test_a_group_without_its_command_under_json_says_so_in_json(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(app, ["--json", *path], env={"COLUMNS": "100"})
    assert done.exit_code == 2, done.output
    error = json.loads(done.stderr)["error"]
    assert (error["code"], error["message"]) == ("cli.usage", "Missing command.")


@pytest.mark.parametrize(
    "words",
    [
        ["nosuch"],
        ["status", "abc"],
        ["status", "--limit", "x"],
        ["add"],
        ["add", "-a", "/nonexistent/list.txt"],
        ["completion", "tcsh"],
        ["web", "token", "list"],
    ],
    ids=" ".join,
)
def test_the_commands_own_usage_errors_under_json_are_json_too(
    tmp_path: Any, words: list[str]
) -> None:
    """What a command's parse took but the command refuses (a job that is no number, no
    input at all) is a usage error as Click's are: JSON under `--json`, exit 2."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "c"), "COLUMNS": "100"}
    data = ["--data-dir", str(tmp_path / "data")]
    done = CliRunner().invoke(app, [*data, "--json", *words], env=env, input="")
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "cli.usage"
    assert error["message"] and error["next"]
