"""``--help`` and usage lines as a well-kept CLI prints them (git, rclone, gh).

Typer's own rendering changes with its version: recent ones print ``<bool>`` beside
every flag, ``<list[str]>`` beside arguments and ``{job}`` or ``[[PASSWORD]]`` in usage
lines. Here the help is written from the parameters' public attributes (names, metavar,
help, default), so it reads the same on every Typer: ``Usage: ferryman add [OPTIONS]
PATH...``, ``--to DEST``, a flag with no type.

Only the root group is declared with ``cls=HelpGroup``; it gives every command and
group below it (the sub-apps of other modules too, and any added later) the same
rendering, by making each an instance of the matching class here. These classes only
override how help, usage lines and usage errors are worded (an argument is named as
its usage line names it; a bad number "must be a whole number"), nothing else.
"""

from __future__ import annotations

import inspect
import shutil
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from ferryman.frontdoors.cli.coercion import light
from ferryman.frontdoors.cli.output import take_output_options
from ferryman.frontdoors.exit_codes import TABLE as EXIT_CODES


def _metavar(param: Any) -> str:
    """What stands for a parameter's value: its metavar, else its name in capitals, bare
    (a metavar written as a usage piece, ``[JOB]...``, is one: usage adds the marks)."""
    name = str(param.metavar or param.name or "VALUE").upper()
    return name.removesuffix("...").strip("[]")


def _takes_no_value(param: Any) -> bool:
    """A flag, or a counted option (``-v``/``-vv``): given alone, never with a value."""
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def _argument_name(param: Any) -> str:
    name = _metavar(param)
    return f"{name}..." if param.nargs != 1 else name


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = ["[OPTIONS]"] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = _argument_name(param)
        pieces.append(name if param.required else f"[{name}]")
    return pieces


def _paragraphs(text: str) -> list[str]:
    """A docstring's paragraphs, each one line (the formatter wraps it)."""
    text = inspect.cleandoc(text).partition("\f")[0]
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def _default(param: Any) -> str:
    """``  [default: X]`` when the default says something a reader needs."""
    if param.show_default is False or _takes_no_value(param):
        return ""
    default = param.default
    if default is None or default == "" or isinstance(default, (list, tuple)):
        return ""
    return f"  [default: {getattr(default, 'value', default)}]"


def _records(command: Any, ctx: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        described = " ".join(str(param.help or "").split())
        if param.param_type_name == "argument":
            arguments.append((_argument_name(param), described))
            continue
        names = ", ".join(sorted(param.opts, key=len))
        if param.secondary_opts:
            names += " / " + ", ".join(param.secondary_opts)
        if not _takes_no_value(param):
            names += f" {_metavar(param)}"
        options.append((names, described + _default(param)))
    return arguments, options


# The output options every command takes, before or after it (``cli.output``).
OUTPUT_OPTIONS = (
    "-q, -v, --json, --no-color",
    "Results only, more log (-vv: everything), results as JSON, no colours.",
)


def _write_help(command: Any, ctx: Any, formatter: Any) -> None:
    if ctx.terminal_width is None and ctx.max_content_width is None:
        # The terminal's width, as git and gh use it (click's formatter stops at 80).
        formatter.width = max(shutil.get_terminal_size().columns - 2, 50)
    formatter.write_usage(ctx.command_path, " ".join(command.collect_usage_pieces(ctx)))
    for paragraph in _paragraphs(command.help or ""):
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(paragraph)
    arguments, options = _records(command, ctx)
    runs = not getattr(command, "commands", None) or command.invoke_without_command
    if ctx.parent is not None and runs:
        options.append(OUTPUT_OPTIONS)  # taken by every command, declared at the root
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)
    commands = getattr(command, "commands", None)
    if commands:
        rows = []
        summary = getattr(commands, "summary", lambda name: None)  # cli.lazy's, unbuilt
        for name in command.list_commands(ctx):
            line = summary(name)
            if line is not None:
                rows.append((name, line))
                continue
            sub = commands[name]
            if not sub.hidden:
                rows.append((name, (_paragraphs(sub.help or "") or [""])[0]))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
    if ctx.parent is None and commands:  # the root: what a script can rely on
        with formatter.section("Output"):
            formatter.write_text(
                "-q, -v/-vv, --json and --no-color go before or after the command;"
                " results go to stdout, progress and messages to stderr."
            )
        with formatter.section("Exit codes"):
            formatter.write_dl([(str(int(code)), text) for code, text in EXIT_CODES])


# What a type check says in Typer's words (pydantic's, on recent Typers), in a person's.
_PLAIN_TYPE_ERRORS = (
    ("Input should be a valid integer", "must be a whole number"),
    ("Input should be a valid number", "must be a number"),
    ("Input should be a valid boolean", "must be true or false"),
)


def _parse(parse: Any, ctx: Any, args: list[str]) -> list[str]:
    """``parse(ctx, args)``, with a bad value's message in plain words."""
    try:
        parsed: list[str] = parse(ctx, args)
    except typer.BadParameter as exc:
        for said, plain in _PLAIN_TYPE_ERRORS:
            if exc.message.startswith(said):
                exc.message = plain
        raise
    return parsed


class HelpCommand(TyperCommand):
    """A command whose help and usage are written by this module."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse(super().parse_args, ctx, take_output_options(self, ctx, args))

    def get_params(self, ctx: Any) -> list[Any]:
        return light(super().get_params(ctx))  # with --help: plain values without Pydantic

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _write_help(self, ctx, formatter)


class HelpGroup(TyperGroup):
    """A group whose help and usage are written by this module, and its commands' too."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in self.commands.values():
            adopt(command)
        _name_arguments(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse(super().parse_args, ctx, take_output_options(self, ctx, args))

    def get_params(self, ctx: Any) -> list[Any]:
        return light(super().get_params(ctx))  # with --help: plain values without Pydantic

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        wanted = "[COMMAND]" if self.invoke_without_command else "COMMAND [ARGS]..."
        return [*_usage_pieces(self, ctx), wanted]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _write_help(self, ctx, formatter)


def adopt(command: Any) -> None:
    """Make a Typer command or group below the root render as this module does, its
    arguments named in errors as in usage lines ('JOB', not 'job')."""
    if type(command) is TyperCommand:
        command.__class__ = HelpCommand
    elif type(command) is TyperGroup:
        command.__class__ = HelpGroup
        for sub in command.commands.values():
            adopt(sub)
    _name_arguments(command)


def _name_arguments(command: Any) -> None:
    for param in command.params:
        if param.param_type_name == "argument" and param.metavar is None:
            param.metavar = _metavar(param)
