"""What the terminal front doors print: errors with their next step, and job reports.

User text (file names, paths, error messages) is never read as Rich markup: a file
called ``trip [b] day.jpg`` prints as it is, and a message holding ``[/topic/ID]``
cannot crash the printer.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from ferryman.errors import FerrymanError


def fail(console: Console, exc: FerrymanError) -> None:
    """``error CODE: message`` and the next step, on ``console`` (stderr for the CLI)."""
    console.print(Text.assemble(("error", "red"), f" {exc.code}: {exc.message}"))
    console.print(f"  next: {exc.next_step}", markup=False)


def print_report(out: Console, data: dict[str, Any]) -> None:
    out.print(f"[bold]job {data['job']}[/bold] {data['name']} — {data['state']}")
    out.print(f"  source: {data['source']}")
    if data["error"]:
        out.print(f"  [red]{data['error']['code']}[/red]: {data['error']['message']}")
    out.print(
        f"  {data['delivered']} of {data['total']} delivered"
        f" ({data['converted']} converted), {data['bytes_delivered']:,} bytes,"
        f" {data['seconds']:.1f} s"
    )
    for entry in data.get("items", []):
        if entry["plan"] not in (None, "as_is", "document", "quarantine"):
            out.print(f"  {entry['plan']} {entry['path']}: {_fix_line(entry)}")
    for reason, n in sorted(data["skipped"].items()):
        out.print(f"  skipped {n}: {reason}")
    for entry in data["quarantined"]:
        out.print(f"  [yellow]quarantined[/yellow] {entry['path']}: {entry['code']}")
    for entry in data["failed"]:
        out.print(f"  [red]failed[/red] {entry['path']}: {entry['code']}")


def _fix_line(entry: dict[str, Any]) -> str:
    """Why an item was changed, and what it cost: reason, sizes before/after, time."""
    before = entry.get("size_before")
    sizes = f"{before:,} → {entry['size']:,} bytes" if before else f"{entry['size']:,} bytes"
    parts = f", {entry['parts']} parts" if entry.get("parts") else ""
    why = entry.get("reason") or "-"
    return f"{why}; {sizes}{parts}, {entry.get('seconds') or 0:.1f} s"
