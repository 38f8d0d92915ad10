"""``/metrics`` in Prometheus' text format: what the store knows (jobs, items, bytes,
failures by code, each source's success), and, when the engine runs in this process,
how long its stages take, timed from the events on its bus."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    AlbumFailed,
    AlbumSending,
    AlbumWaiting,
    Event,
    ItemConverted,
    ItemConverting,
    JobFetched,
    JobFetching,
    JobReadDone,
    JobStarted,
)

BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
_STARTS: dict[type[Event], str] = {
    JobFetching: "fetch",
    ItemConverting: "convert",
    JobStarted: "read",
}
_ENDS: dict[type[Event], str] = {JobFetched: "fetch", ItemConverted: "convert", JobReadDone: "read"}


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip([*BUCKETS, float("inf")], self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.3f}")
        out.append(f"{name}_count{{{labels}}} {running}")
        return out


class StageClock:
    """Stage durations from the bus: a fetch from its first progress to fetched, a
    conversion from converting to converted, reading an input from started to read to its end,
    a delivery from its album's first send to delivered (what the events say)."""

    def __init__(self) -> None:
        self.stages: dict[str, Histogram] = {}
        self._open: dict[tuple[str, int], float] = {}
        self._sending: dict[tuple[int, int], float] = {}  # (job, album) → its first send

    def on_event(self, event: Event) -> None:
        key_id = event.item_id if event.item_id is not None else event.job_id
        if key_id is None:
            return
        now = time.monotonic()
        if isinstance(event, AlbumSending):
            self._sending.setdefault((event.job_id, event.album), now)
            return
        if isinstance(event, AlbumDelivered):
            began = self._sending.pop((event.job_id, event.album), None)
            if began is not None:
                self.stages.setdefault("deliver", Histogram()).observe(now - began)
            return
        if isinstance(event, AlbumFailed | AlbumWaiting):  # its next try is timed afresh
            self._sending.pop((event.job_id, event.album), None)
            return
        start = _STARTS.get(type(event))
        if start is not None:
            self._open.setdefault((start, key_id), now)
            return
        end = _ENDS.get(type(event))
        if end is not None:
            began = self._open.pop((end, key_id), None)
            if began is not None:
                self.stages.setdefault(end, Histogram()).observe(now - began)


def render(figures: dict[str, Any], jobs_by_state: dict[str, int], extra: Mapping[str, float],
           clock: StageClock | None) -> str:  # fmt: skip
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("ferryman_jobs", "gauge", "Jobs by state.")
    lines += [f'ferryman_jobs{{state="{s}"}} {n}' for s, n in sorted(jobs_by_state.items())]
    family("ferryman_items", "gauge", "Items by state.")
    lines += [f'ferryman_items{{state="{s}"}} {n}' for s, n in sorted(figures["items"].items())]
    family("ferryman_items_failed", "gauge", "Items failed or quarantined, by error code.")
    lines += [
        f'ferryman_items_failed{{code="{c}"}} {n}'
        for c, n in sorted(figures["failed_by_code"].items())
    ]
    for key, help_text in (
        ("bytes_fetched", "Bytes downloaded by the fetch stage."),
        ("bytes_read", "Bytes read from inputs, before any conversion."),
        ("bytes_delivered", "Bytes delivered."),
    ):
        family(f"ferryman_{key}", "counter", help_text)
        lines.append(f"ferryman_{key} {figures[key]}")
    family("ferryman_source_jobs", "gauge", "Jobs by source scheme and state.")
    for (scheme, state), n in sorted(figures["jobs_by_source"].items()):
        lines.append(f'ferryman_source_jobs{{source="{scheme}",state="{state}"}} {n}')
    family("ferryman_source_success_ratio", "gauge", "Done over ended (done or failed) jobs.")
    schemes = {scheme for scheme, _ in figures["jobs_by_source"]}
    for scheme in sorted(schemes):
        done = figures["jobs_by_source"].get((scheme, "done"), 0)
        failed = figures["jobs_by_source"].get((scheme, "failed"), 0)
        if done + failed:
            lines.append(
                f'ferryman_source_success_ratio{{source="{scheme}"}} {done / (done + failed):.4f}'
            )
    for name, value in extra.items():
        family(f"ferryman_{name}", "gauge", name.replace("_", " ").capitalize() + ".")
        lines.append(f"ferryman_{name} {value:g}")
    if clock is not None:
        family("ferryman_stage_seconds", "histogram", "How long engine stages took.")
        for stage, histogram in sorted(clock.stages.items()):
            lines += histogram.lines("ferryman_stage_seconds", f'stage="{stage}"')
    return "\n".join(lines) + "\n"


def account_lines(figures: Mapping[str, Mapping[str, Any]]) -> str:
    """Each Telegram account's figures (``telegram/accounts``: at most 32, so the
    ``account`` label stays bounded), as the engine last wrote them."""
    lines: list[str] = []
    for key, kind, help_text in (
        ("albums", "counter", "Albums sent, by Telegram account."),
        ("bytes", "counter", "File bytes uploaded, by Telegram account."),
        ("seconds", "counter", "Seconds spent preparing albums, by Telegram account."),
        ("waits", "counter", "Waits Telegram imposed, by Telegram account."),
        ("refused", "counter", "Albums an account gave way on, by Telegram account."),
    ):
        name = f"ferryman_telegram_account_{key}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [
            f'{name}{{account="{_label(account)}"}} {float(f.get(key, 0)):g}'
            for account, f in sorted(figures.items())
        ]
    return "\n".join(lines) + "\n" if lines and figures else ""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
