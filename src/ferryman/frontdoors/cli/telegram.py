"""`ferryman telegram login | whoami | logout | serve | demo`: the account ferryman sends
with, the chat front door, and the chat tried on a fake Telegram (``chat_demo``).

The commands read the settings from the context object (``cli.State`` when run as
``ferryman telegram …``). The network comes from the object's ``dialer`` if it has one,
so tests and embedders can run the commands against a fake; else it is the real
MTProto network.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.help import HelpGroup
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

if TYPE_CHECKING:  # Telethon and the settings load on use, so `--help` needs neither
    from ferryman.config import Settings
    from ferryman.telegram.client import Dialer
    from ferryman.telegram.login import Me

T = TypeVar("T")

telegram_app = typer.Typer(
    help="Log in to Telegram (a user or a bot), see who is logged in, log out, and serve"
    " the chat as a front door (`telegram demo` tries it without an account).",
    no_args_is_help=True,
    cls=HelpGroup,  # as under the root: run alone too (``Wiring``), it takes --json after
)
out = console()


@dataclass(frozen=True, slots=True)
class Wiring:
    """A context object for running these commands on their own: settings and network.

    ``CliRunner().invoke(telegram_app, args, obj=Wiring(settings, dialer))``.
    """

    preset: Settings
    dialer: Dialer

    def settings(self) -> Settings:
        return self.preset


class TerminalPrompter:
    """Asks at the terminal; secrets are not echoed."""

    def ask(self, question: str, *, secret: bool) -> str:
        return str(typer.prompt(question, hide_input=secret))


# An account's state met by these commands, not by a job: the next step for the account
# alone (the codes' own speak of the jobs that stopped: `retry JOB`), unless the error
# gives one that fits its state better (serve with named accounts alone).
_ACCOUNT_STEPS = {
    "telegram.not_logged_in": "Log in first: `ferryman telegram login` (a user by phone, a"
    " bot with --bot; another account of the pool with --as NAME).",
    "telegram.session_revoked": "The session was ended (logged out or revoked elsewhere):"
    " log in again with `ferryman telegram login` (--as NAME for that account).",
}


def _fail(exc: FerrymanError) -> NoReturn:
    fail(console(stderr=True), exc, step=exc.step or _ACCOUNT_STEPS.get(exc.code))
    raise typer.Exit(for_error(exc.code)) from exc


def _run(
    ctx: typer.Context,
    work: Callable[[Settings, Dialer], Awaitable[T]],
    account: str | None = None,
) -> T:
    """Settings and dialer from the context, then ``work``; errors exit 2 with a next step.
    ``account``: the pool's account of that name (its own session file)."""
    from ferryman.telegram.client import MTProtoDialer  # lazy: start-up

    dialer: Dialer = getattr(ctx.obj, "dialer", None) or MTProtoDialer()

    async def go() -> T:
        settings = ctx.obj.settings()
        if account is not None:
            from ferryman.telegram.accounts import with_session  # lazy: start-up

            settings = with_session(settings, account)
        return await work(settings, dialer)

    try:
        import asyncio  # not for `--help`: it costs a noticeable share of start-up

        return asyncio.run(go())
    except FerrymanError as exc:
        _fail(exc)


@telegram_app.command()
def login(
    ctx: typer.Context,
    phone: Annotated[
        str | None, typer.Option("--phone", help="With country code; asked if omitted.")
    ] = None,
    bot: Annotated[
        bool,
        typer.Option("--bot", help="Log in as a bot (token asked unless telegram.bot_token)."),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Another account of the pool, by a name of yours: its own session file"
            " (<data_dir>/telegram/NAME.session); a channel's albums spread over the"
            " accounts that may post there.",
        ),
    ] = None,
) -> None:
    """Log in: a user by phone, code and 2FA password; or a bot by its token."""
    from ferryman.telegram.login import (
        ask,
        connect,
        current_login,
        disconnect,
        login_bot,
        login_user,
    )  # lazy: start-up

    prompter = TerminalPrompter()

    async def work(settings: Settings, dialer: Dialer) -> tuple[Me, bool]:
        client = await connect(settings, dialer)
        try:
            already = await current_login(client)
            if already is not None:
                return already, False
            token = settings.telegram.bot_token if name is None else None
            if bot or token:
                if not token:
                    token = await ask(prompter, "Bot token (from @BotFather)", secret=True)
                return await login_bot(client, token), True
            return await login_user(client, prompter, phone), True
        finally:
            await disconnect(client)

    _check_name(name)
    me, fresh = _run(ctx, work, name)
    which = f" --as {name}" if name else ""
    if wants_json(ctx):
        said(ctx, "", account=name, logged_in=dataclasses.asdict(me), already=not fresh)
    elif fresh:
        out.print(f"logged in{which} as {me.describe()}", markup=False)
    else:
        out.print(
            f"already logged in{which} as {me.describe()};"
            f" run `ferryman telegram logout{which}` first to use another account",
            markup=False,
        )


def _check_name(name: str | None) -> None:
    """A session name: letters, digits, ``_.-``, as ``telegram.session`` takes."""
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        _fail(
            FerrymanError(
                "config.invalid",
                f"--as {name!r}: a name of 1 to 64 letters, digits, '_', '.' or '-'",
            )
        )


@telegram_app.command("whoami")
def whoami_cmd(ctx: typer.Context) -> None:
    """Who each account of the pool is logged in as (asked from Telegram, so a revoked
    session shows): the own session first, then each logged in with `login --as NAME`;
    with the biggest file and the longest caption each may send, as Telegram says."""
    from ferryman.telegram.account import limits_of
    from ferryman.telegram.accounts import account_names, session_of, with_session  # lazy
    from ferryman.telegram.login import disconnect, open_session, whoami  # lazy: start-up

    sends: dict[str, dict[str, int]] = {}  # what Telegram lets each account send, as said

    async def work(settings: Settings, dialer: Dialer) -> list[tuple[str, Me | FerrymanError]]:
        import asyncio  # lazy: start-up

        rows: list[tuple[str, Me | FerrymanError]] = []
        for name in account_names(settings):
            try:
                client = await open_session(with_session(settings, name), dialer)
                try:
                    me = await whoami(client)
                    told = await asyncio.to_thread(limits_of, session_of(settings, name))
                    premium = me.premium and not me.bot
                    sends[name] = {
                        "file_limit_bytes": told.file_bytes(premium),
                        "caption_limit": told.caption_chars(premium),
                    }
                    rows.append((name, me))
                finally:
                    await disconnect(client)
            except FerrymanError as exc:
                if len(rows) == 0 and name == settings.telegram.session:
                    others = account_names(settings)[1:]
                    if not others:
                        raise  # one account: its error, as before pools
                rows.append((name, exc))
        return rows

    rows = _run(ctx, work)
    single = len(rows) == 1
    if wants_json(ctx):
        listed = [
            {"account": name}
            | (
                {"error": me.code}
                if isinstance(me, FerrymanError)
                else dataclasses.asdict(me) | sends[name]
            )
            for name, me in rows
        ]
        if single:  # one account: its fields alone, as before pools
            listed[0].pop("account")
        out.print_json(json.dumps(listed[0] if single else listed))
        return
    for name, me in rows:
        label = "" if single else f"{name}: "
        if isinstance(me, FerrymanError):
            out.print(f"{label}{me.code}: {me.message}", markup=False)
            continue
        out.print(f"{label}{me.describe()}", markup=False)
        if me.phone:
            out.print(f"{' ' * len(label)}phone {me.phone}", markup=False)
        told = sends[name]
        out.print(
            f"{' ' * len(label)}sends files up to {told['file_limit_bytes'] // 2**20:,} MiB,"
            f" captions up to {told['caption_limit']:,} characters (as Telegram says)",
            markup=False,
        )


@telegram_app.command("logout")
def logout_cmd(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--as", help="The pool's account of that name.")
    ] = None,
) -> None:
    """End the session at Telegram and delete the session file."""
    from ferryman.telegram.client import session_path  # lazy: start-up
    from ferryman.telegram.login import connect, disconnect, logout  # lazy: start-up

    async def work(settings: Settings, dialer: Dialer) -> bool | None:
        if not session_path(settings).exists():
            return None
        client = await connect(settings, dialer)
        try:
            return await logout(client)
        finally:
            await disconnect(client)

    _check_name(name)
    confirmed = _run(ctx, work, name)
    if wants_json(ctx):
        said(ctx, "", account=name, logged_out=confirmed is not None, confirmed=confirmed)
    elif confirmed is None:
        out.print("not logged in; nothing to do")
    elif confirmed:
        out.print("logged out; the session file is deleted")
    else:
        out.print("Telegram had already ended this session; the session file is deleted")


# --------------------------------------------------------------------------------------
# `ferryman telegram serve`: the chat front door next to the engine (frontdoor package).


@telegram_app.command("serve")
def serve_cmd(ctx: typer.Context) -> None:
    """Run the engine and answer in the chat: allowed people send files and commands."""
    from ferryman.frontdoors.startup import running  # lazy: start-up
    from ferryman.frontdoors.telegram import serve  # lazy: start-up

    async def work(settings: Settings, dialer: Dialer) -> None:
        import asyncio  # not for `--help`: it costs a noticeable share of start-up

        from ferryman.frontdoors.telegram.serve import check_ready  # lazy: start-up

        check_ready(settings)  # before saying it serves (and before the lock)
        settings = chat_settings(settings)
        stop = asyncio.Event()
        async with running(
            settings,
            on_signal=stop.set,
            command="telegram serve",
            links_expected=True,
            dialer=dialer,
        ) as started:
            said(ctx, "serving the chat front door; Ctrl+C stops", event="serving")
            if not wants_json(ctx):
                _say_aes()
            await serve(settings, started.store, dialer=dialer, stop=stop, engine=started.engine)

    _run(ctx, work)


def _say_aes() -> None:
    """Which AES-IGE every byte to and from Telegram goes through; the slow one warned."""
    from ferryman.telegram.aes import aes_in_use  # lazy: start-up

    aes = aes_in_use()
    (console(stderr=True) if aes.slow else out).print(
        f"{'warning: ' if aes.slow else ''}Telegram's AES-IGE: {aes.words}", markup=False
    )


def chat_settings(settings: Settings) -> Settings:
    """The settings ``telegram serve`` runs with: links and notice URLs from the chat
    never reach this machine or a private network (``network.block_private``, the
    egress guard), unless ``telegram.allow_private_links``, as ``ferryman web`` does."""
    if settings.telegram.allow_private_links:
        return settings
    network = settings.network.model_copy(update={"block_private": True})
    return settings.model_copy(update={"network": network})


@telegram_app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo's data dir (its jobs and albums).")
    ] = False,
) -> None:
    """Try the chat without an account: a scripted chat on a fake Telegram, printed."""
    from ferryman.frontdoors.chat_demo import run_chat_demo  # lazy: start-up

    try:  # --json: the chat on stderr, its outcome as one object on stdout
        code = run_chat_demo(console(stderr=True) if wants_json(ctx) else out, keep=keep)
    except FerrymanError as exc:
        _fail(exc)
    if wants_json(ctx):
        said(ctx, "", demo="chat", ok=code == 0, exit_code=code)
    raise typer.Exit(code)
