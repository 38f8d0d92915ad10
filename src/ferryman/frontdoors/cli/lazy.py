"""The root's commands, each built when it is asked for: ``ferryman status`` loads the
module of ``status`` and no other (each module by concern imports what its commands
need: ``doctor`` the sinks, ``add`` the options and the presets), and Typer turns one
function into a Click command, not forty-seven (that alone was ~0.1 s of every command).

``LazyCommands`` stands for the root group's ``commands``: its names are known without
loading anything, a command is built the first time it is looked up (by the parser, by
completion, by a walk over every command) and kept. The root's ``--help`` lists the
commands with their one-line summaries from ``SUMMARIES``, so it builds none either
(tests/cli/test_lazy_commands.py holds them equal to each command's own help)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer

from ferryman.frontdoors.cli.help import HelpGroup, adopt

try:  # the Click Typer runs on: its own copy in recent Typers, else Click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - an older Typer
    from click.exceptions import UsageError  # type: ignore[assignment,unused-ignore]

# Where each command lives (a module of this package, its Typer app), in the order the
# root's --help lists them: the commands, then the groups.
COMMANDS: dict[str, tuple[str, str]] = {
    "add": ("work", "work_app"),
    "run": ("work", "work_app"),
    "status": ("status", "status_app"),
    **{name: ("job", "job_app") for name in ("report", "links")},
    **{name: ("nodes", "nodes_app") for name in ("workers", "drain")},
    **{
        name: ("job", "job_app")
        for name in ("pause", "resume", "cancel", "retry", "remove", "password")
    },
    "doctor": ("doctor", "doctor_app"),
    "update": ("update", "update_app"),
    "docs": ("docs", "docs_app"),
    "demo": ("work", "work_app"),
    "completion": ("completion", "completion_app"),
}
GROUPS: dict[str, tuple[str, str]] = {
    "config": ("config", "config_app"),
    "quarantine": ("config", "quarantine_app"),
    "telegram": ("telegram", "telegram_app"),
    "service": ("service", "service_app"),
    "web": ("web", "web_app"),
    "user": ("user", "user_app"),
    "preset": ("preset", "preset_app"),
    "watch": ("watch", "watch_app"),
}
SUMMARIES = {
    "add": "Add inputs as jobs: they run with `ferryman run` (or at once with --run, or in"
    " a ferryman that is running already).",
    "run": "Run the engine: read inputs, prepare media, deliver albums.",
    "status": "The newest jobs with their state and item counts; the rest are counted.",
    "report": "What a job delivered, converted, skipped and quarantined, and why.",
    "links": "A `--to link:` job's download links, or a Telegram job's (read from Telegram by"
    " `ferryman web`), signed afresh (valid for web.link_ttl).",
    "workers": "The engines that ran against this store: node, stages, last heartbeat, work held.",
    "drain": "Let a node finish what it holds and take nothing new (stays so across restarts).",
    "pause": "Pause a job: nothing of it is claimed until `resume`.",
    "resume": "Resume a paused job.",
    "cancel": "Cancel a job and delete its files from the work area.",
    "retry": "Run an ended job again; what was delivered is not delivered twice.",
    "remove": "Forget ended jobs: their records and work files (a running job: cancel it first).",
    "password": "Give a job a password, tried at once where its archive is on this machine (a"
    " wrong one is said and not kept); a job in needs_password reads on from where it"
    " stopped.",
    "doctor": "The Python packages ferryman needs, which archive backends this machine has,"
    " and which formats they read; the optional tools, with how to get each (exit 1:"
    " something ferryman needs is missing, not an optional tool).",
    "update": "Update yt-dlp and its YouTube solver (yt-dlp-ejs) in ferryman's own"
    " environment: the new version is tried on local links first and kept only if it"
    " passes, else the one before is put back (exit 1). pip's own settings (pip.conf,"
    " PIP_INDEX_URL) apply.",
    "docs": "The documentation this install carries: the topics, or one of them in full"
    " (Markdown), e.g. `ferryman docs web`.",
    "demo": "Make sample inputs, run them into the library, and print the reports.",
    "completion": "Print the shell's completion script: `ferryman completion bash"
    " >>~/.bashrc` (zsh: `>~/.zfunc/_ferryman`; fish:"
    " `>~/.config/fish/completions/ferryman.fish`).",
    "config": "Show or change settings.",
    "quarantine": "What could not be delivered, kept with a reason.",
    "telegram": "Log in to Telegram (a user or a bot), see who is logged in, log out, and"
    " serve the chat as a front door (`telegram demo` tries it without an account).",
    "service": "Start ferryman with the device (Termux:Boot, or a systemd user unit).",
    "web": "Serve the web page and the API (described at /api/docs once it serves).",
    "user": "Accounts on the page: add, list, remove, reset a password, set a library folder,"
    " give a person's rclone.conf.",
    "preset": "Presets for links: named bundles of quality, audio format, subtitles and"
    " destination (add --preset NAME).",
    "watch": "Watch a folder on this machine, a feed, a channel or playlist, a WebDAV folder"
    " or a Torbox account: new entries become jobs.",
}


def _typer_app(where: tuple[str, str]) -> typer.Typer:
    module, name = where
    app: typer.Typer = getattr(importlib.import_module(f"ferryman.frontdoors.cli.{module}"), name)
    return app


def _command_name(info: Any) -> str:
    return str(info.name or typer.main.get_command_name(info.callback.__name__))


def build(name: str, holder: typer.Typer) -> Any:
    """The Click command or group ``name``, as Typer builds it under ``holder`` (an
    empty app with the root's settings: the markup mode of its errors, its exceptions)."""
    if name in GROUPS:
        holder.add_typer(_typer_app(GROUPS[name]), name=name)
    else:
        infos = _typer_app(COMMANDS[name]).registered_commands
        holder.registered_commands.extend(i for i in infos if _command_name(i) == name)
    try:
        return typer.main.get_group(holder).commands[name]
    finally:
        holder.registered_commands.clear()
        holder.registered_groups.clear()


class LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name at once, each command built when first
    looked up (``build``) and given the root's rendering (``adopt``); one added by name
    (Click's ``add_command``) is kept as it is."""

    def __init__(self, holder: typer.Typer, adopt: Any) -> None:
        self._holder = holder
        self._adopt = adopt
        self._built: dict[str, Any] = {}
        self._names = [*COMMANDS, *GROUPS]

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS and name not in GROUPS:
                raise KeyError(name)
            command = build(name, self._holder)
            self._adopt(command)
            self._built[name] = command
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(name)
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def summary(self, name: str) -> str | None:
        """``name``'s line in the root's --help without building it (None: build it)."""
        return None if name in self._built else SUMMARIES.get(name)


class LazyGroup(HelpGroup):
    """The root group: its commands are ``LazyCommands``, built under an app with the
    root's settings (errors as plain lines: no Rich markup)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        holder = typer.Typer(rich_markup_mode=None, add_completion=False)
        self.commands = LazyCommands(holder, adopt)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names: none of them built

    # A usage error met parsing the root or below it, as JSON under --json (cli.usage_json).
    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as exc:
            raise _usage(exc, args) from None
        ctx.meta[_ARGS] = list(args)
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _usage(exc, ctx.meta.get(_ARGS, [])) from None


_ARGS = "ferryman.args"


def _usage(exc: UsageError, args: list[str]) -> Exception:
    from ferryman.frontdoors.cli.usage_json import for_json  # lazy: met on an error only

    return for_json(exc, args)
