"""What the terminal front doors print: errors with their next step, job tables and reports.

User text (file names, paths, error messages, codes) is never read as Rich markup: a
file called ``trip [b] day.jpg`` prints as it is, and a message holding ``[/topic/ID]``
cannot crash the printer. Styles are applied to whole ``Text`` spans instead.

Output that is not a terminal is not hard-wrapped: a piped line stays one line, so a
script (or a person's ``| grep``) sees whole messages.

Control characters in that text (an ESC, a CR or a bidi override in a file's name) are
printed as escapes (``\\x1b``: ``printable``), by the consoles themselves, so no print
can forget it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from ferryman.errors import ERRORS, FerrymanError, with_job
from ferryman.model import ENCODED_PLANS, AlbumGroup, MediaKind, Plan, album_group
from ferryman.printable import printable

if TYPE_CHECKING:
    from ferryman.frontdoors.result_links import Links
    from ferryman.model import Job

_UNWRAPPED_WIDTH = 10_000  # a table printed to a pipe: as wide as its cells need


class SafeConsole(Console):
    """A Rich console that escapes control characters in what it prints: in strings
    before Rich reads them (Rich would drop a BEL or a CR unseen, and pass an ESC), and
    in every rendered segment (a ``Text`` built elsewhere), escapes being idempotent."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(printable(text, lines=True), **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control:
                yield segment
            else:
                yield Segment(printable(segment.text, lines=True), segment.style)


def console(*, stderr: bool = False) -> Console:
    """A console for the CLI: soft-wrapped (the terminal wraps, not Rich)."""
    return SafeConsole(stderr=stderr, soft_wrap=True)


def show(out: Console, renderable: Any) -> None:
    """Print a table: at the terminal's width, or unwrapped when piped."""
    if out.is_terminal:
        out.print(renderable)
        return
    # A console's width caps any width asked of print(): a wide one, same file.
    wide = SafeConsole(file=out.file, width=_UNWRAPPED_WIDTH, no_color=out.no_color)
    wide.print(renderable)


def json_asked(ctx: Any = None) -> bool:
    """Whether the command running was given ``--json``: as its context (``ctx``, else
    the current one) says (before or after the command, ``cli.output``), else as the
    process's command line says (before any ``--``)."""
    if ctx is None:
        try:  # the Click Typer runs on: its own copy in recent Typers, else Click
            from typer._click.globals import get_current_context  # lazy: start-up
        except ImportError:
            from click import get_current_context  # type: ignore[no-redef,unused-ignore]

        ctx = get_current_context(silent=True)
    if ctx is not None and "ferryman.json" in ctx.meta:
        return bool(ctx.meta["ferryman.json"])
    words = sys.argv[1:]
    return "--json" in words[: words.index("--")] if "--" in words else "--json" in words


def fail(
    console: Console,
    exc: FerrymanError,
    job: int | None = None,
    *,
    as_json: bool | None = None,
    step: str | None = None,
) -> None:
    """``error CODE: message`` and the next step, on ``console`` (stderr for the CLI);
    ``job``: the job the command named, whose number the next step then gives. Under
    ``--json`` (``as_json``; None: as the process's command line says, before any
    ``--``): ``{"error": {"code", "message", "next"}}`` on one line, for a script."""
    if as_json is None:
        as_json = json_asked()
    if as_json:
        import json  # lazy: start-up

        said: dict[str, object] = {
            "code": exc.code,
            "message": exc.message,
            "next": step or with_job(exc.next_step, job),
        }
        if job is not None:
            said["job"] = job
        console.print(json.dumps({"error": said}), markup=False, highlight=False)
        return
    console.print(Text.assemble(("error", "red"), printable(f" {exc.code}: {exc.message}")))
    console.print(f"  next: {step or with_job(exc.next_step, job)}", markup=False)


def state_cell(job: dict[str, Any]) -> str:
    """A job's state as the status table shows it (a queued job whose input downloads
    is "fetching"): paused, waiting (or its place in line), its error code."""
    state = "fetching" if job.get("fetching") else str(job["state"])
    state += " (paused)" if job["paused"] else ""
    if job.get("idle"):
        state += " (no engine runs: waits for the next `ferryman run`)"
    if job["waiting"]:
        state += f" [{job['waiting']}]"
    elif job.get("in_line"):
        state += f" ({in_line_text(job['in_line'])})"
    elif job.get("album_waits"):
        state += f" ({album_waits_text(job['album_waits'])})"
    if job["error"]:
        state += f" {job['error']['code']}"
    return state


def album_waits_text(waits: dict[str, int]) -> str:
    """Ready files held for a conversion of their album, as people read it: ``7 ready
    wait for 1 conversion (convert.album_wait_seconds)``, the setting that bounds it."""
    ready, converting = int(waits["ready"]), int(waits["converting"])
    conversions = f"{converting} conversion{'' if converting == 1 else 's'}"
    return f"{ready} ready wait for {conversions} (convert.album_wait_seconds)"


def in_line_text(place: dict[str, Any]) -> str:
    """A queued job's place as people read it (the page's ``inLineText`` says the same)."""
    n = int(place["ahead"])
    if not n:
        return "waiting: next in line"
    if place["reason"] == "downloads":
        return f"waiting: {n} download{'' if n == 1 else 's'} ahead"
    return f"waiting: {n} job{'' if n == 1 else 's'} to read ahead"


def status_table(data: dict[str, Any]) -> Table:
    """``ferryman status``: one row per job; cells are plain text, never markup."""
    columns = ("total", "delivered", "failed", "skipped", "quarantined", "pending")
    table = Table("job", "name", "state", *(c if c != "quarantined" else "quar." for c in columns))
    for job in data["jobs"]:
        c = job["counts"]
        cells = [Text(str(c[k]), style="red" if k == "failed" and c[k] else "") for k in columns]
        name = Text(printable(job["name"]))
        table.add_row(Text(str(job["id"])), name, Text(state_cell(job)), *cells)
    return table


def print_problems(out: Console, data: dict[str, Any]) -> None:
    """Under ``status``'s table: each job's error or wait with its message and next step."""
    for job in data["jobs"]:
        problem = job["error"]
        if problem:
            code, message, step = problem["code"], problem.get("message"), problem.get("next")
        elif job.get("waiting"):
            code, message, step = job["waiting"], job.get("waiting_message"), job["waiting_next"]
        else:
            continue
        out.print(
            Text.assemble(
                (f"job {job['id']}", "bold"),
                " ",
                (str(code), "red" if job["state"] == "failed" else "yellow"),
                printable(f": {message}") if message else "",
            )
        )
        if step:
            _line(out, f"  next: {step}")


def print_links(
    out: Console, job: Job, made: Links, serving: bool, limit: int | None = None
) -> None:
    """``ferryman links JOB``: each file with its link (the first ``limit``), the zip,
    and who serves them."""
    if not made.files:
        ended = job.state.terminal
        why = "it delivered none" if ended else f"it is {job.state.value}: `ferryman run` delivers"
        _line(out, f"job {job.id} {job.name}: no files yet ({why})")
        return
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(made.expires))
    n = len(made.files)
    files = f"{n} file{'' if n == 1 else 's'}"
    _line(out, f"job {job.id} {job.name}: {files}, links valid until {until}")
    for link in made.files[:limit]:
        _line(out, f"  {link.name} ({link.size:,} bytes): {link.url}")
    if limit is not None and n > limit:
        _line(out, f"  … and {n - limit} more: `ferryman links {job.id}`")
    if made.whole:
        _line(out, f"  all as one zip: {made.whole}")
    where = f"served by `ferryman web` at {made.base}"
    if any(not link.url.startswith(made.base) for link in made.files):
        where = f"the files come from the S3 bucket; the zip is {where}"
    if not serving:
        where += (
            " (not running there now: start it with `ferryman web`; one started with"
            " --port or --host serves elsewhere: `ferryman config set web.port PORT` to match)"
        )
    if not made.configured:
        where += "; set web.public_url to the address others reach it at"
    _line(out, where + "; `ferryman links` again signs new links")


def print_report(out: Console, data: dict[str, Any]) -> None:
    """``ferryman report JOB``: what was delivered, changed, skipped, kept, and why."""
    title = printable(f" {data['name']} — {data['state']}")
    out.print(Text.assemble((f"job {data['job']}", "bold"), title))
    _line(out, f"  source: {data['source']}")
    if data.get("fetched_as"):
        _line(out, f"  made: {data['fetched_as']}")
    if data.get("download_links"):
        _line(out, f"  download links: `ferryman links {data['job']}` (served by `ferryman web`)")
    for key, style in (("error", "red"), ("waiting", "yellow")):
        problem = data.get(key)
        if problem:
            said = printable(f": {problem['message']}")
            out.print(Text.assemble("  ", (str(problem["code"]), style), said))
            if problem.get("next"):
                _line(out, f"  next: {problem['next']}")
    failed = len(data["failed"])
    _line(
        out,
        f"  {data['delivered']} of {data['total']} delivered"
        f" ({data['converted']} converted)"
        + (f", {failed} failed" if failed else "")
        + f", {data['bytes_delivered']:,} bytes, {_took(data)}",
    )
    for entry in data.get("items", []):
        if entry["plan"] not in (None, "as_is", "document", "quarantine"):
            _line(out, f"  {entry['plan']} {entry['path']}: {_fix_line(entry)}")
        elif kept_undecoded(entry):
            _line(out, f"  as it is {entry['path']}: {entry['reason']}")
    if deferred_note(data):
        _line(out, f"  {deferred_note(data)}")
    _print_skipped(out, data)
    for entry in data["quarantined"]:
        out.print(Text.assemble("  ", ("quarantined", "yellow"), f" {_outcome(entry)}"))
    for entry in data["failed"]:
        out.print(Text.assemble("  ", ("failed", "red"), f" {_outcome(entry)}"))


def kept_undecoded(entry: dict[str, Any]) -> bool:
    """A report's item delivered as it is because it could not be decoded or converted
    (a backup keeps it so): a file whose reason starts with an error code."""
    return entry["plan"] == "document" and (entry["reason"] or "").split(":")[0] in ERRORS


SKIPPED_SHOWN = 10  # files named per reason a file was skipped; --json lists them all


def _print_skipped(out: Console, data: dict[str, Any]) -> None:
    """Each reason files were skipped, in words too, and the files it left out: the next
    step of a job that delivered nothing sends a person here to see which they were."""
    from ferryman.rules.outcomes import skip_words  # lazy: start-up

    items = [i for i in data.get("items", []) if i["state"] == "skipped"]
    for reason, n in sorted(data["skipped"].items()):
        words = skip_words(reason)
        _line(out, f"  skipped {n}: {reason}" + ("" if words == reason else f" ({words})"))
        paths = [i["path"] for i in items if i["reason"] == reason]
        for path in paths[:SKIPPED_SHOWN]:
            _line(out, f"    {path}")
        if len(paths) > SKIPPED_SHOWN:
            more = len(paths) - SKIPPED_SHOWN
            _line(out, f"    … {more} more (`ferryman report {data['job']} --json` lists them)")


DEFERRED_PLANS = frozenset(plan.value for plan in ENCODED_PLANS)  # the convert stage's


def deferred_note(data: dict[str, Any]) -> str:
    """Why converted files came after files that follow them in the input, for a report
    whose items hold any: an album waits for a conversion in its place only so long
    (``convert.album_wait_seconds``), and encoding waits until nothing deliverable does
    (by design, not a fault). A converted file in its place is not noted: it is not late."""
    late = _late_conversions(data.get("items", []))
    if not late:
        return ""
    return (
        f"{late} converted file{'s' * (late != 1)} came after files that follow in the input:"
        " an album waits convert.album_wait_seconds for a conversion, then goes without it"
        " (deferred conversion)"
    )


def _late_conversions(items: list[dict[str, Any]]) -> int:
    """How many delivered converted items went in a later album than a delivered item
    after them in the input, among the photos and videos (documents and audio travel
    apart): latest first, the lowest album seen so far beside each."""
    visual = [
        i
        for i in items
        if i["state"] == "delivered"
        and i.get("album") is not None
        and album_group(MediaKind(i["kind"]), Plan(i["plan"]) if i["plan"] else None)
        is AlbumGroup.VISUAL
    ]
    late, lowest = 0, None
    for item in sorted(visual, key=lambda i: i["seq"], reverse=True):
        if item["plan"] in DEFERRED_PLANS and lowest is not None and lowest < item["album"]:
            late += 1
        lowest = item["album"] if lowest is None else min(lowest, item["album"])
    return late


_STEP_FOR_STATE = {
    "paused": "`ferryman resume {id}`",
    "running": "`ferryman run` goes on with it",
    "unfinished": "the next `ferryman run` goes on with it where it stopped",
    "cancelled": "`ferryman retry {id}` runs it again, or `ferryman remove {id}`",
}


def print_run_summary(out: Console, data: dict[str, Any]) -> None:
    """The end of ``run``: how the jobs it touched ended, their items, what each job
    that waits or failed needs from a person, and where each one's files went."""
    if not data["jobs"]:
        _line(out, "nothing to do: no job is queued (`ferryman add` adds one)")
        return
    order = ("done", "failed", "waiting", "paused", "cancelled", "running", "unfinished")
    jobs = ", ".join(f"{data['jobs'][k]} {k}" for k in order if data["jobs"].get(k))
    i = data["items"]
    items = f"{i['delivered']} delivered, {i['failed']} failed"
    items += "".join(f", {i[k]} {k}" for k in ("quarantined", "skipped", "pending") if i[k])
    _line(out, f"jobs: {jobs}; items: {items}")
    for job in data["needs"]:
        code = f" {job['code']}" if job["code"] else ""
        if job["next"]:
            step = with_job(job["next"], job["id"])
        else:
            step = _STEP_FOR_STATE.get(job["state"], "`ferryman report {id}`").format(id=job["id"])
        said = f": {job['message']}" if job.get("message") and code else ""
        if job.get("was_waiting"):  # stopped while it waited: what for, in its words
            why = f": {job['message']}" if job.get("message") else ""
            said = f" (it was waiting: {job['was_waiting']}{why})"
        _line(out, f"  job {job['id']} {job['name']}: {job['state']}{code}{said}")
        _line(out, f"    next: {step}")
    for job in data.get("where", []):
        there = f" ({job['already']} already there)" if job.get("already") else ""
        _line(out, f"  job {job['id']} {job['name']}: delivered to {job['to']}{there}")
    for job in data.get("links", []):
        _line(out, f"  job {job['id']} {job['name']}: download links: `ferryman links {job['id']}`")


def _took(data: dict[str, Any]) -> str:
    """The job's time, with what it waited on its person apart (a password, space)."""
    waited = data.get("seconds_waited") or 0.0
    if not waited:
        return f"{data['seconds']:.1f} s"
    return f"{data['seconds_worked']:.1f} s worked, {waited:.1f} s waited for you"


def _line(out: Console, text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _outcome(entry: dict[str, Any]) -> str:
    message = f" ({entry['message']})" if entry.get("message") else ""
    return f"{entry['path']}: {entry['code']}{message}"


def _fix_line(entry: dict[str, Any]) -> str:
    """Why an item was changed, and what it cost: reason, sizes before/after, time."""
    before = entry.get("size_before")
    sizes = f"{before:,} → {entry['size']:,} bytes" if before else f"{entry['size']:,} bytes"
    parts = f", {entry['parts']} parts" if entry.get("parts") else ""
    why = entry.get("reason") or "-"
    changes = [a for a in entry.get("actions") or () if a.startswith(CHANGES)]
    done = f" ({', '.join(changes)})" if changes else ""
    return f"{why}{done}; {sizes}{parts}, {entry.get('seconds') or 0:.1f} s"


# An item's actions a report names beside its reason: what changed besides the codec.
CHANGES = ("scaled:", "bit_depth:", "hdr:")
