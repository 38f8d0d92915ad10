"""``python -m bench jobs1000``: the page with 1,000 jobs, in Chromium, against the same
page with none (the baseline), in the same run.

The jobs are made for real: ``--list-jobs`` (1,000) inputs through ``ferryman add -a``
and ``ferryman run --until-idle``: 85 % small photos (done, one download link each),
10 % broken zips (failed, with their words and next step), then 5 % added after the
run (queued: ``ferryman web --no-engine`` serves the page, so they stay in line). A
second data dir has no jobs. Chromium (Playwright, ``/usr/bin/chromium``) opens each
page ``ROUNDS`` times, alternating:

- **load:** first paint and first contentful paint (the Paint Timing API), the load
  event, the bytes received until the page is idle (the DevTools protocol: every HTTP
  response and the WebSocket's frames, the snapshot of the newest 200 jobs included),
  the rows then in the list and the page's element count;
- **to the end:** "Show older" clicked until none is left (every job in the list), in
  seconds;
- **smooth:** with every job in the list, the window scrolled from top to bottom in
  40 steps, one an animation frame: the longest frame and the mean; and a click on the
  *Done* view until the next frame (the filter over 1,000 rows).

Targets: the first contentful paint within 1.5x the empty page's (the server draws only
the newest 50 rows); while scrolling no frame over 50 ms; a view switched within 100 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import Check, Result, Table, fmt_bytes, median, progress, scratch
from bench.gallery import _PAINTS, CHROMIUM, _Bytes, _env, _web

ROUNDS = 3
PAINT_TARGET = 1.5
FRAME_TARGET_MS = 50.0
SWITCH_TARGET_MS = 100.0

_SCROLL = """async () => {
  const frames = [];
  let last = performance.now();
  const steps = 40, height = document.documentElement.scrollHeight - innerHeight;
  for (let i = 1; i <= steps; i++) {
    scrollTo(0, (height * i) / steps);
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  scrollTo(0, 0);
  return { longest: Math.max(...frames), mean: frames.reduce((a, b) => a + b, 0) / frames.length };
}"""
_SWITCH = """async () => {
  const started = performance.now();
  document.querySelector('input[name="show"][value="done"]').click();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const took = performance.now() - started;
  document.querySelector('input[name="show"][value="all"]').click();
  return took;
}"""


def _inputs(folder: Path, jobs: int) -> tuple[list[Path], list[Path]]:
    """The inputs run now (photos and broken zips) and those added after (queued)."""
    from ferryman.samples import make_photo_set

    folder.mkdir(parents=True, exist_ok=True)
    done, failed = round(jobs * 0.85), round(jobs * 0.10)
    queued = jobs - done - failed
    photos = make_photo_set(folder / "photos", done + queued, size=(64, 48))
    broken = []
    for n in range(failed):
        path = folder / "broken" / f"broken_{n:04d}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK\x03\x04 not a zip at all " * 4)
        broken.append(path)
    return [*photos[:done], *broken], photos[done:]


def _add(paths: list[Path], data: Path, folder: Path, name: str) -> None:
    listing = folder / f"{name}.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    cli = [sys.executable, "-m", "ferryman"]
    subprocess.run([*cli, "add", "-a", str(listing), "--to", "link:"], env=_env(data),
                   check=True, capture_output=True)  # fmt: skip


def _make(folder: Path, data: Path, jobs: int) -> float:
    """The jobs, made for real; seconds the run took."""
    now, later = _inputs(folder, jobs)
    _add(now, data, folder, "now")
    started = time.monotonic()
    cli = [sys.executable, "-m", "ferryman", "run", "--until-idle"]
    ran = subprocess.run(cli, env=_env(data), capture_output=True, text=True)
    if ran.returncode not in (0, 1):  # 1: some jobs failed (the broken zips: meant)
        raise RuntimeError(f"ferryman run: {ran.stderr[-2000:]}")
    took = time.monotonic() - started
    _add(later, data, folder, "later")
    return took


def _visit(browser: Any, base: str, full: bool) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    received = _Bytes(context, page)
    try:
        page.goto(base, wait_until="load")
        page.wait_for_load_state("networkidle")
        if full:
            page.wait_for_function("() => document.querySelectorAll('#jobs li.job').length >= 200")
        time.sleep(0.3)  # the event stream's snapshot
        got: dict[str, float] = page.evaluate(_PAINTS)
        got["bytes"] = received.total
        got["rows"] = page.evaluate("document.querySelectorAll('#jobs li.job').length")
        got["elements"] = page.evaluate("document.getElementsByTagName('*').length")
        started = time.monotonic()
        older = page.locator("#older")
        while older.is_visible():
            rows = page.evaluate("document.querySelectorAll('#jobs li.job').length")
            older.click()
            page.wait_for_function(
                "n => document.querySelectorAll('#jobs li.job').length > n"
                " || document.getElementById('older').hidden",
                arg=rows,
            )
        got["to_end"] = time.monotonic() - started
        got["all_rows"] = page.evaluate("document.querySelectorAll('#jobs li.job').length")
        scrolled = page.evaluate(_SCROLL)
        got["frame_longest"], got["frame_mean"] = scrolled["longest"], scrolled["mean"]
        got["switch"] = page.evaluate(_SWITCH)
        return got
    finally:
        context.close()


def run(args: argparse.Namespace) -> Result:
    jobs = int(getattr(args, "list_jobs", None) or max(60, round(1000 * args.scale)))
    result = Result("jobs1000", f"the page with {jobs} jobs against the page with none")
    if not Path(CHROMIUM).exists():
        result.notes.append(f"no Chromium at {CHROMIUM}: nothing measured")
        return result
    from playwright.sync_api import sync_playwright

    with scratch("joblist", args.tmp_dir, args.keep) as work:
        progress(f"jobs1000: {jobs} jobs made (photos, broken zips, some left queued)")
        seconds = _make(work / "in", work / "data", jobs)
        (work / "empty").mkdir()
        with (
            _web(work / "data", "--no-engine") as full_base,
            _web(work / "empty", "--no-engine") as empty_base,
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            for round_ in range(ROUNDS):
                for full in (False, True) if round_ % 2 == 0 else (True, False):
                    progress(f"jobs1000: round {round_ + 1}, {'jobs' if full else 'empty'}")
                    runs[full].append(_visit(browser, full_base if full else empty_base, full))
            browser.close()
        table = Table(["page", "first paint", "FCP", "load", "bytes on load", "rows",
                       "elements", "Show older to the end", "longest frame scrolling",
                       "mean frame", "Done view"])  # fmt: skip
        mid: dict[bool, dict[str, float]] = {}
        for full, label in ((False, "no jobs (baseline)"), (True, f"{jobs} jobs")):
            m = {k: median([r[k] for r in runs[full]]) for k in runs[full][0]}
            mid[full] = m
            table.add(label, f"{m['fp']:.0f} ms", f"{m['fcp']:.0f} ms", f"{m['load']:.0f} ms",
                      fmt_bytes(m["bytes"]), f"{m['rows']:.0f} → {m['all_rows']:.0f}",
                      f"{m['elements']:.0f}", f"{m['to_end']:.2f} s",
                      f"{m['frame_longest']:.0f} ms", f"{m['frame_mean']:.1f} ms",
                      f"{m['switch']:.0f} ms")  # fmt: skip
        paint = mid[True]["fcp"] / max(1.0, mid[False]["fcp"])
        weight = mid[True]["bytes"] / max(1.0, mid[False]["bytes"])
        table.add("jobs vs baseline", "", f"{paint:.2f}x", "", f"{weight:.2f}x",
                  "", "", "", "", "", "")  # fmt: skip
        result.tables.append((f"Chromium, 1280x860, medians of {ROUNDS} loads each", table))
        made = Table(["jobs", "run (photos and broken zips)"])
        made.add(jobs, f"{seconds:.1f} s")
        result.tables.append(("the jobs (made once)", made))
        full = mid[True]
        result.checks += [
            Check("FCP, 1,000 jobs vs none", f"{paint:.2f}x", f"<= {PAINT_TARGET}x",
                  paint <= PAINT_TARGET),
            Check("every job reached by Show older", f"{full['all_rows']:.0f}", f"= {jobs}",
                  round(full["all_rows"]) == jobs),
            Check("longest frame while scrolling", f"{full['frame_longest']:.0f} ms",
                  f"<= {FRAME_TARGET_MS:.0f} ms", full["frame_longest"] <= FRAME_TARGET_MS),
            Check("Done view over every job", f"{full['switch']:.0f} ms",
                  f"<= {SWITCH_TARGET_MS:.0f} ms", full["switch"] <= SWITCH_TARGET_MS),
        ]  # fmt: skip
        result.data = {"jobs": full, "empty": mid[False], "run_seconds": seconds}
    result.notes.append(
        "the servers (--no-engine), Chromium and this process share the machine; bytes on"
        " load count the page, its scripts, GET /api/v1/jobs and the snapshot's frame"
    )
    return result
