"""``ferryman user add|list|remove|reset|set|rclone``: the page's accounts (``docs/web.md``). Once
one exists, every request to the page signs in (loopback too); ``web.tokens`` stay
administrators' tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.output import said
from ferryman.frontdoors.cli.store import run_with_store
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import Accounts

user_app = typer.Typer(
    help="Accounts on the page: add, list, remove, reset a password, set a library folder,"
    " give a person's rclone.conf."
)

PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="FERRYMAN_PASSWORD",
        help="The password (else asked, twice, or one line piped in; FERRYMAN_PASSWORD keeps"
        " it out of the shell's history).",
        show_default=False,
    ),
]
LibraryOption = Annotated[
    Path | None,
    typer.Option(
        "--library",
        help="The person's own library folder: their library: jobs go there (not to the"
        " server's library); '' takes it away.",
        show_default=False,
    ),
]


def _library(given: Path | None) -> str:
    from ferryman.web.accounts.defaults import library_setting  # lazy: start-up

    if given is None or str(given) in ("", "."):
        return ""
    return library_setting(str(given.expanduser().resolve()))


def _password(given: str | None) -> str:
    """The password given, else asked twice unseen in a terminal, else one line of stdin
    (as `ferryman password` reads it); a coded exit, not a traceback, when it will not do."""
    from ferryman.web.accounts.passwords import MIN_LENGTH  # lazy: start-up

    try:
        password = given
        if password is None and sys.stdin.isatty():
            password = typer.prompt("password", hide_input=True)
            if typer.prompt("again", hide_input=True) != password:
                raise FerrymanError("account.bad_password", "the two passwords differ")
        elif password is None:
            password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < MIN_LENGTH:
            said = "no password given" if not password else "the password is too short"
            raise FerrymanError(
                "account.bad_password", f"{said}: it needs {MIN_LENGTH} characters at least"
            )
    except FerrymanError as exc:
        fail(console(stderr=True), exc)
        raise typer.Exit(for_error(exc.code)) from exc
    return password


async def _named(store: Accounts, name: str) -> int:
    user = await store.user_named(name)
    if user is None:
        raise FerrymanError("account.not_found", f"there is no account {name!r}")
    return user.id


@user_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account's name (letters, digits, . _ -).")],
    password: PasswordOption = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="An administrator: sees everyone's jobs.")
    ] = False,
    library: LibraryOption = None,
) -> None:
    """Add a person who signs in on the page with NAME and a password."""
    from ferryman.web.accounts.passwords import hash_password  # lazy: start-up

    chosen = _password(password)
    folder = _library(library)

    from ferryman.web.accounts.removal import forget_person  # lazy: start-up

    async def work(settings: Settings, store: Accounts) -> None:
        user = await store.add_user(name, hash_password(chosen), admin)
        await forget_person(settings, user.id)  # starts with nothing of anyone's
        if folder:
            await store.update_user(user.id, settings={**user.settings, "library": folder})
        await store.add_audit("cli", "user.add", name, "local")

    run_with_store(ctx, work)
    said(
        ctx,
        f"added {name}{' (administrator)' if admin else ''}",
        user=name,
        added=True,
        admin=admin,
    )


@user_app.command("list")
def list_users(ctx: typer.Context) -> None:
    """The accounts: name, administrator or not, a linked Telegram account, and the
    library folder their library jobs go to (the server's when none is set)."""

    async def work(settings: Settings, store: Accounts) -> list[dict[str, Any]]:
        server = f"{settings.library} (the server's)"
        return [
            {
                "name": u.name,
                "admin": u.admin,
                "telegram": u.tg_user_id is not None,
                "library": u.settings.get("library") or server,
                "limits": {k: v for k, v in (u.settings.get("limits") or {}).items() if v},
            }
            for u in await store.users()
        ]

    users = run_with_store(ctx, work)
    out = console()
    if ctx.obj.json:  # `--json` before or after the command, as every list takes it
        out.print_json(json.dumps({"users": users}))
        return
    lines = [
        f"{u['name']}\t{'admin' if u['admin'] else 'user'}"
        f"\t{'telegram' if u['telegram'] else '-'}\t{u['library']}"
        for u in users
    ]
    for line in lines or ["no accounts: the page is open on this machine only"]:
        out.print(line, markup=False)


@user_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account to remove.")],
) -> None:
    """Remove an account (its tokens, passkeys, sessions and open streams end, its
    cookies and cached link results go); its jobs stay."""
    from ferryman.web.accounts.removal import forget_person  # lazy: start-up

    async def work(settings: Settings, store: Accounts) -> None:
        person = await _named(store, name)
        await store.remove_user(person)
        await forget_person(settings, person)
        await store.add_audit("cli", "user.remove", name, "local")

    run_with_store(ctx, work)
    said(ctx, f"removed {name}", user=name, removed=True)


@user_app.command("reset")
def reset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account whose password is set anew.")],
    password: PasswordOption = None,
) -> None:
    """Set a new password (the account's sessions end)."""
    from ferryman.web.accounts.passwords import hash_password  # lazy: start-up

    chosen = _password(password)

    async def work(_settings: Settings, store: Accounts) -> None:
        await store.update_user(await _named(store, name), password_hash=hash_password(chosen))
        await store.add_audit("cli", "user.reset", name, "local")

    run_with_store(ctx, work)
    said(ctx, f"new password set for {name}", user=name, password_set=True)


@user_app.command("set")
def set_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account to change.")],
    library: LibraryOption = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            metavar="N",
            min=0,
            help="Jobs the person may have at once, queued or running (0: no limit).",
        ),
    ] = None,
    bytes_day: Annotated[
        str | None,
        typer.Option(
            "--bytes-day",
            metavar="SIZE",
            help="What the person's jobs may read in a day, e.g. 20GB (0: no limit).",
        ),
    ] = None,
    results_kept: Annotated[
        int | None,
        typer.Option(
            "--results-kept",
            metavar="N",
            min=0,
            help="Ended jobs the person may keep before removing some (0: no limit).",
        ),
    ] = None,
) -> None:
    """Change a person's settings: their own library folder and their limits, as an
    administrator sets them on the page; what is not given stays as it was."""
    from ferryman.config.types import parse_bytes  # lazy: start-up

    folder = None if library is None else _library(library)
    asked: dict[str, int] = {}
    try:
        if bytes_day is not None:
            asked["bytes_day"] = parse_bytes(bytes_day)
    except ValueError as exc:  # a usage error, as a bad --jobs is
        console(stderr=True).print(f"--bytes-day {bytes_day!r}: {exc}", markup=False)
        raise typer.Exit(2) from exc
    asked |= {k: v for k, v in (("jobs", jobs), ("results_kept", results_kept)) if v is not None}

    async def work(_settings: Settings, store: Accounts) -> dict[str, Any]:
        user = await store.user_named(name)
        if user is None:
            raise FerrymanError("account.not_found", f"there is no account {name!r}")
        changed = dict(user.settings)
        if folder is not None:
            changed["library"] = folder
        if asked:
            changed["limits"] = {**(user.settings.get("limits") or {}), **asked}
        await store.update_user(user.id, settings=changed)
        await store.add_audit("cli", "user.settings", name, "local")
        return changed

    now = run_with_store(ctx, work)
    limits = {k: v for k, v in (now.get("limits") or {}).items() if v}
    words = {
        "jobs": "{} jobs at once",
        "bytes_day": "{:,} bytes a day",
        "results_kept": "{} ended jobs kept",
    }
    shown = ", ".join(words[k].format(v) for k, v in sorted(limits.items()) if k in words)
    lines = (
        []
        if folder is None
        else [
            f"library folder of {name}: {folder}" if folder else f"{name} uses the server's library"
        ]
    )
    if asked or folder is None:
        lines.append(f"limits of {name}: {shown or 'none'}")
    said(ctx, "\n".join(lines), user=name, library=now.get("library") or None, limits=limits)


@user_app.command("rclone")
def rclone_conf(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The account whose rclone.conf it is.")],
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Their rclone.conf ('-': read it from stdin); none: show their remotes.",
            show_default=False,
        ),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Forget their rclone.conf.")] = False,
) -> None:
    """A person's own rclone.conf, as they give it on the page: checked (no local path,
    no command, no key file, no private address) and kept for their rclone: jobs and
    watches alone; shown as remote names and types, never its secrets."""
    from ferryman.net.rclone_conf import KeptRclone  # lazy: start-up

    data = None
    if file is not None:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()

    async def work(settings: Settings, store: Accounts) -> dict[str, Any]:
        user = await store.user_named(name)
        if user is None:
            raise FerrymanError("account.not_found", f"there is no account {name!r}")
        kept = KeptRclone(settings.data_dir, None if user.admin else user.id)
        if remove:
            kept.remove()
        elif data is not None:
            kept.put(data, settings.network.private_allowed)
        else:
            return kept.view()
        await store.add_audit("cli", "user.rclone", name, "local")
        return kept.view()

    view = run_with_store(ctx, work)
    remotes = [f"{r['name']} ({r['type']})" for r in view["remotes"]]
    words = ", ".join(remotes) if view["kept"] else "no rclone.conf of their own"
    said(ctx, f"rclone remotes of {name}: {words}", user=name, **view)
