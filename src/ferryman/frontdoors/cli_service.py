"""`ferryman service install | uninstall`: start ferryman when the device starts.

On Termux, a Termux:Boot script (``~/.termux/boot/ferryman``, run by the Termux:Boot app
after the phone boots) takes a wake lock and starts ferryman; elsewhere, a systemd user
unit (``~/.config/systemd/user/ferryman.service``) restarts it when it fails. Either runs
``telegram serve`` (the chat front door with the engine) or ``run`` (the engine alone).
"""

from __future__ import annotations

import os
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ferryman.frontdoors.terminal import console

service_app = typer.Typer(
    help="Start ferryman with the device (Termux:Boot, or a systemd user unit).",
    no_args_is_help=True,
)
out = console()


class Command(StrEnum):
    serve = "serve"
    run = "run"
    web = "web"


def _on_termux() -> bool:
    return "TERMUX_VERSION" in os.environ or os.environ.get("PREFIX", "").endswith("/usr")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def service_file() -> Path:
    if _on_termux():
        return _home() / ".termux" / "boot" / "ferryman"
    return _home() / ".config" / "systemd" / "user" / "ferryman.service"


def _argv(data_dir: Path, command: Command) -> list[str]:
    words = {Command.serve: ["telegram", "serve"], Command.run: ["run"], Command.web: ["web"]}[
        command
    ]
    return [sys.executable, "-m", "ferryman", "--data-dir", str(data_dir), *words]


def render(data_dir: Path, command: Command) -> str:
    """What the service file holds, for this machine."""
    argv = shlex.join(_argv(data_dir, command))
    if _on_termux():
        log = shlex.quote(str(data_dir / "ferryman.log"))
        return (
            "#!/data/data/com.termux/files/usr/bin/sh\n"
            "# Written by `ferryman service install`; Termux:Boot runs it after a boot.\n"
            "termux-wake-lock\n"
            f"exec {argv} >> {log} 2>&1\n"
        )
    return (
        "# Written by `ferryman service install`.\n"
        "[Unit]\n"
        "Description=ferryman\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        f"ExecStart={argv}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


@service_app.command()
def install(
    ctx: typer.Context,
    command: Annotated[
        Command,
        typer.Option(
            "--command",
            help="serve: the chat and the engine; run: the engine; web: the page, the API and"
            " the engine.",
        ),
    ] = Command.serve,
    show: Annotated[bool, typer.Option("--print", help="Print it; write nothing.")] = False,
) -> None:
    """Write the boot script (Termux) or the systemd user unit."""
    settings = ctx.obj.settings()
    text = render(settings.data_dir, command)
    target = service_file()
    if show:
        out.print(f"# {target}", markup=False)
        out.print(text, markup=False, end="")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(0o700 if _on_termux() else 0o644)
    out.print(f"wrote {target}", markup=False)
    if _on_termux():
        out.print("next: install the Termux:Boot app and open it once", markup=False)
    else:
        out.print(
            "next: systemctl --user daemon-reload && systemctl --user enable --now ferryman",
            markup=False,
        )


@service_app.command()
def uninstall() -> None:
    """Remove what `install` wrote."""
    target = service_file()
    if not target.exists():
        out.print("no service file; nothing to do", markup=False)
        return
    target.unlink()
    out.print(f"removed {target}", markup=False)
    if not _on_termux():
        out.print("next: systemctl --user disable --now ferryman", markup=False)
