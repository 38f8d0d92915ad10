"""`ferryman service install | uninstall`: start ferryman when the device starts.

On Termux, a Termux:Boot script (``~/.termux/boot/ferryman``, run by the Termux:Boot app
after the phone boots) takes a wake lock and starts ferryman; elsewhere, a systemd user
unit (``~/.config/systemd/user/ferryman.service``) restarts it when it fails. Either runs
``telegram serve`` (the chat front door with the engine) or ``run`` (the engine alone).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail
from ferryman.phone import on_phone

if TYPE_CHECKING:
    from ferryman.config import Settings

service_app = typer.Typer(
    help="Start ferryman with the device (Termux:Boot, or a systemd user unit).",
    no_args_is_help=True,
)
out = console()


class Command(StrEnum):
    serve = "serve"
    run = "run"
    web = "web"


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


DEFAULT_NAME = "ferryman"
_NAME_HELP = (
    "The service's name: one file per name, so a web front end and a worker on one"
    " machine are two services (`--name ferryman-web`)."
)


def service_file(name: str = DEFAULT_NAME) -> Path:
    if on_phone():
        return _home() / ".termux" / "boot" / name
    return _home() / ".config" / "systemd" / "user" / f"{name}.service"


def _checked_name(name: str) -> str:
    """A name that is one file name and a systemd unit name alike."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or name.endswith(".service"):
        why = "letters, digits, '.', '_' or '-', without '.service' (e.g. ferryman-web)"
        fail(out, FerrymanError("config.invalid", f"--name '{name}' is not a service name: {why}"))
        raise typer.Exit(2)
    return name


def _argv(
    data_dir: Path, command: Command, config: Path | None, no_engine: bool = False
) -> list[str]:
    words = {Command.serve: ["telegram", "serve"], Command.run: ["run"], Command.web: ["web"]}[
        command
    ]
    if no_engine:
        words.append("--no-engine")
    where = ["--config", str(config)] if config is not None else []
    return [sys.executable, "-m", "ferryman", *where, "--data-dir", str(data_dir), *words]


def carried_environment() -> dict[str, str]:
    """The ``FERRYMAN_*`` settings of the shell that installs the service, which the
    service must see too: a unit or a boot script starts with none of them (the config
    file travels as ``--config``)."""
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k.startswith("FERRYMAN_") and k != "FERRYMAN_CONFIG"
    }


def render(
    data_dir: Path,
    command: Command,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    no_engine: bool = False,
) -> str:
    """What the service file holds, for this machine."""
    argv = shlex.join(_argv(data_dir, command, config, no_engine))
    env = env or {}
    if on_phone():
        log = shlex.quote(str(data_dir / "ferryman.log"))
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        return (
            "#!/data/data/com.termux/files/usr/bin/sh\n"
            "# Written by `ferryman service install`; Termux:Boot runs it after a boot.\n"
            "termux-wake-lock\n"
            f"{exports}"
            f"exec {argv} >> {log} 2>&1\n"
        )
    environment = "".join(f"Environment={_systemd_quoted(f'{k}={v}')}\n" for k, v in env.items())
    return (
        "# Written by `ferryman service install`.\n"
        "[Unit]\n"
        "Description=ferryman\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        f"{environment}"
        f"ExecStart={_systemd_literal(argv)}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def _systemd_literal(command: str) -> str:
    """A command line as ``ExecStart=`` keeps it: ``%`` starts a specifier, ``$`` a
    variable (a path like ``/x/50%off`` would change silently)."""
    return command.replace("%", "%%").replace("$", "$$")


def _systemd_quoted(assignment: str) -> str:
    """One ``Environment=`` assignment, quoted as systemd reads it (spaces, quotes, %)."""
    escaped = assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    escaped = escaped.replace("\n", "\\n")  # systemd reads C escapes back
    return f'"{escaped}"'


@service_app.command()
def install(
    ctx: typer.Context,
    command: Annotated[
        Command | None,
        typer.Option(
            "--command",
            help="serve: the chat and the engine; run: the engine; web: the page, the API and"
            " the engine. Default: what is set up (the chat once Telegram's keys are set,"
            " else the page once web.tokens or web.public_url is, else the engine).",
        ),
    ] = None,
    no_engine: Annotated[
        bool,
        typer.Option(
            "--no-engine",
            help="With --command web: the page and the API only; workers run elsewhere.",
        ),
    ] = False,
    show: Annotated[bool, typer.Option("--print", help="Print it; write nothing.")] = False,
    name: Annotated[str, typer.Option("--name", help=_NAME_HELP)] = DEFAULT_NAME,
) -> None:
    """Write the boot script (Termux) or the systemd user unit.

    It starts ferryman as this shell would: with the config file in use (`--config`
    or `$FERRYMAN_CONFIG`) and this shell's other `FERRYMAN_*` variables.
    """
    state = ctx.obj
    try:
        settings = state.settings()
    except FerrymanError as exc:
        fail(console(stderr=True), exc)
        raise typer.Exit(for_error(exc.code)) from None
    if command is None:
        command, why = configured(settings)
        console(stderr=True).print(
            f"installing `{command.value}`: {why}", markup=False, highlight=False
        )
    if no_engine and command is not Command.web:
        out.print("--no-engine goes with --command web only", markup=False)
        raise typer.Exit(2)
    config = state.config or _config_from_env()
    env = carried_environment()
    text = render(settings.data_dir, command, config.resolve() if config else None, env, no_engine)
    target = service_file(_checked_name(name))
    if show:
        if wants_json(ctx):
            said(ctx, "", path=str(target), unit=text, written=False)
            return
        out.print(f"# {target}", markup=False)
        out.print(text, markup=False, end="")
        return
    if command is Command.serve:
        _check_chat_ready(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    replaced = _started_by(target)
    # A secret among the variables (an S3 key, a database password) is the user's alone,
    # from the first byte: the file is made with its mode, an older one narrowed first.
    mode = 0o700 if on_phone() else (0o600 if env else 0o644)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    if wants_json(ctx):
        said(ctx, "", path=str(target), command=command.value, written=True, replaced=replaced)
        return
    out.print(f"wrote {target}", markup=False)
    if replaced is not None and replaced != _started_by(target):
        out.print(
            f"it replaced a service that started `{replaced}`; to keep both, install one"
            " of them with another --name",
            markup=False,
        )
    if on_phone():
        out.print("next: install the Termux:Boot app and open it once", markup=False)
    else:
        out.print(
            f"next: systemctl --user daemon-reload && systemctl --user enable --now {name}",
            markup=False,
        )


def configured(settings: Settings) -> tuple[Command, str]:
    """What ``service install`` starts when not told: the chat once Telegram's keys are
    set (its login is checked before anything is written), else the page once it has
    been given a token or a public address, else the engine alone; and why, in words."""
    if settings.telegram.api_id is not None and settings.telegram.api_hash:
        return Command.serve, "Telegram's keys are set (the chat and the engine)"
    if settings.web.tokens or settings.web.public_url:
        return Command.web, (
            "the web page is set up (web.tokens or web.public_url) and Telegram is not;"
            " --command run for the engine alone"
        )
    return Command.run, (
        "neither Telegram nor the web page is set up, so the engine alone;"
        " --command serve (the chat) or --command web (the page) once they are"
    )


def _check_chat_ready(settings: Settings) -> None:
    """Refuse to install a chat that cannot be served yet (no keys, no login): the
    service would fail at every start, restarted for ever, and nothing would say why."""
    from ferryman.frontdoors.telegram.serve import check_ready  # lazy: the engine, Telethon

    try:
        check_ready(settings)
    except FerrymanError as exc:
        err = console(stderr=True)
        fail(err, exc)
        err.print(
            "  nothing was written; the engine alone or the web page need no Telegram:"
            " `ferryman service install --command run` (or --command web)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(for_error(exc.code)) from None


def _started_by(target: Path) -> str | None:
    """The ferryman command an existing service file starts (None: no file)."""
    try:
        text = target.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        words = line.removeprefix("ExecStart=").split()
        if "ferryman" in words and "-m" in words:
            rest = words[words.index("ferryman") + 1 :]
            while rest and rest[0].startswith("--"):  # --config X, --data-dir X
                rest = rest[2:]
            shown = []
            for word in rest:
                if word.startswith(">"):  # the boot script's log redirection
                    break
                shown.append(word)
            return " ".join(shown)
    return ""


def _config_from_env() -> Path | None:
    named = os.environ.get("FERRYMAN_CONFIG")
    return Path(named) if named else None


@service_app.command()
def uninstall(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help=_NAME_HELP)] = DEFAULT_NAME,
) -> None:
    """Remove what `install` wrote."""
    target = service_file(_checked_name(name))
    if not target.exists():
        said(ctx, f"no service file {target}; nothing to do", path=str(target), removed=False)
        return
    target.unlink()
    loaded = not on_phone() and _still_loaded(name)
    said(ctx, f"removed {target}", path=str(target), removed=True, still_loaded=loaded)
    if loaded and not wants_json(ctx):  # enabled or running: systemd still holds it
        out.print(f"next: systemctl --user disable --now {name}", markup=False)


def _still_loaded(name: str) -> bool:
    """Whether systemd still has the unit enabled or running (so it needs stopping); a
    unit never enabled, or no systemd here, needs nothing more."""
    import shutil  # lazy: start-up
    import subprocess  # lazy: start-up

    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return False
    for asked in ("is-enabled", "is-active"):
        try:
            done = subprocess.run(
                [systemctl, "--user", asked, "--quiet", name],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        if done.returncode == 0:
            return True
    return False
