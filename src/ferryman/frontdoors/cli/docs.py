"""``ferryman docs [TOPIC]``: the documentation the installed package carries (the
project's ``docs/*.md``, shipped as package data under ``ferryman/docs``), so a command
or a message that points to a topic points to something a ``pip install`` has."""

from __future__ import annotations

import difflib
from importlib import resources
from importlib.abc import Traversable
from typing import Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

docs_app = typer.Typer()  # its command joins the root's (``cli``)


def shipped() -> dict[str, Traversable]:
    """Each topic the package carries, by name (``web`` for ``docs/web.md``)."""
    folder = resources.files("ferryman").joinpath("docs")
    found = [entry for entry in folder.iterdir() if entry.name.endswith(".md")]
    return {entry.name.removesuffix(".md"): entry for entry in sorted(found, key=_name)}


def _name(entry: Traversable) -> str:
    return entry.name


def title(text: str) -> str:
    """A topic's first heading, without its ``#``."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def topic_text(topic: str) -> str:
    """The text of ``topic`` (a name ``ferryman docs`` lists; ``web.md`` and
    ``docs/web.md`` name it too), or ``docs.unknown``."""
    name = topic.strip().removeprefix("docs/").removesuffix(".md").lower()
    topics = shipped()
    if name not in topics:
        close = difflib.get_close_matches(name, list(topics), n=1)
        hint = f"did you mean `ferryman docs {close[0]}`? " if close else ""
        raise FerrymanError(
            "docs.unknown", f"no topic called {topic!r}; {hint}`ferryman docs` lists them"
        )
    return topics[name].read_text(encoding="utf-8")


@docs_app.command()
def docs(
    ctx: typer.Context,
    topic: Annotated[
        str | None,
        typer.Argument(
            metavar="[TOPIC]", help="A topic (`ferryman docs` lists them).", show_default=False
        ),
    ] = None,
) -> None:
    """The documentation this install carries: the topics, or one of them in full
    (Markdown), e.g. `ferryman docs web`."""
    if topic is None:
        rows = [
            (name, title(entry.read_text(encoding="utf-8"))) for name, entry in shipped().items()
        ]
        if wants_json(ctx):
            said(ctx, "", topics=[{"topic": name, "title": head} for name, head in rows])
            return
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {head}" for name, head in rows]
        said(ctx, "\n".join([*lines, "", "`ferryman docs TOPIC` prints one."]))
        return
    try:
        text = topic_text(topic)
    except FerrymanError as exc:
        fail(console(stderr=True), exc)
        raise typer.Exit(for_error(exc.code)) from exc
    name = topic.strip().removeprefix("docs/").removesuffix(".md").lower()
    said(ctx, text.rstrip("\n"), topic=name, title=title(text), text=text)
