"""``python -m bench gallery``: the page with a finished job of 1,000 results, in
Chromium, with the gallery (previews, 60 tiles a page) against the same page without
it (``static/gallery.js`` refused: the plain list of links), in the same run.

The job is made for real: ``--gallery-photos`` (1,000) 640x480 JPEGs and 5 short videos
in a folder, ``ferryman add --to link:``, ``ferryman run --until-idle`` (so the previews
are the link sink's, made at delivery; the table says what the run cost). Then
``ferryman web`` serves it and Chromium (Playwright, ``/usr/bin/chromium``) opens the
page three times per mode, alternating:

- **load:** first paint and first contentful paint (the Paint Timing API), the load
  event, and the bytes received until the page is idle (Chrome DevTools Protocol: every
  HTTP response's encoded length, and the WebSocket's frames: the page gets the job's
  view from ``GET /api/v1/jobs`` and the event stream's snapshot too);
- **unfold:** a click on the job's ``1005 files`` summary, until what it shows is there
  (the gallery: the previews in view loaded; the list: its links), with the bytes it
  cost and the page's element count.

Then the job's view and one live message carrying it, in bytes: as sent (the first 60
files and the totals) against the same job with every file's links in it (main before
pages; the pages fetched through ``GET /api/v1/jobs/{id}/files`` put back in).

Targets: with the gallery the first contentful paint stays within 1.25x of the list's
and the bytes on load within 1.5x (a preview's link rides with each file); unfolding
sends at most 60 previews; a live message weighs at most 1.1x its share of the files
(60/1,005 of the one with every file: <= 0.066x).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._common import Check, Result, Table, fmt_bytes, median, progress, scratch

CHROMIUM = os.environ.get("FERRYMAN_TEST_CHROMIUM", "/usr/bin/chromium")
VIDEOS = 5
ROUNDS = 3
PAINT_TARGET = 1.25
BYTES_TARGET = 1.5
PAGE = 60  # tiles shown before "Show more" (gallery.js), files in a view (web/live.py)
MESSAGE_SLACK = 1.1  # a live message vs with every file: its share of the files, +10 %


def _inputs(folder: Path, photos: int) -> None:
    from ferryman.samples import make_photo_set, make_video

    make_photo_set(folder, photos, size=(640, 480))
    for n in range(VIDEOS):
        make_video(folder / f"clip_{n}.mp4", n, seconds=2.0, size=(320, 240))


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {"FERRYMAN_DATA_DIR": str(data), "FERRYMAN_SPACE_FLOOR": "0"}


def _deliver(folder: Path, data: Path) -> float:
    """The job, added and run to its end; seconds the run took."""
    env = _env(data)
    cli = [sys.executable, "-m", "ferryman"]
    subprocess.run([*cli, "add", str(folder), "--to", "link:"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    started = time.monotonic()
    subprocess.run([*cli, "run", "--until-idle"], env=env, check=True, capture_output=True)
    return time.monotonic() - started


@contextmanager
def _web(data: Path, *args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferryman", "web", "--port", "0", *args],
        env=_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ferryman web: http://") and not found:
                found.append(line.split()[2].rstrip("/"))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(60)
    try:
        if not found:
            raise RuntimeError("ferryman web did not start")
        yield found[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _view_weight(base: str) -> dict[str, tuple[int, int]]:
    """The job's view and one live message carrying it (``stream.Stream.publish``'s JSON),
    in bytes: as sent now (one page of files), as main sent them before (every file:
    the pages fetched through ``GET …/files`` put back in), and before the gallery (every
    file without its kind, duration and preview)."""
    import json

    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        (job,) = client.get("/api/v1/jobs").json()["jobs"]
        epoch = client.get("/api/v1/events/poll", params={"after": 0}).json()["epoch"]
        files: list[dict[str, Any]] = []
        offset = 0
        while offset is not None:
            page = client.get(f"/api/v1/jobs/{job['id']}/files?offset={offset}&limit=1000")
            files += page.json()["files"]
            offset = page.json()["next_offset"]

    def weigh(view: dict[str, Any]) -> tuple[int, int]:
        message = {"seq": 12345, "epoch": epoch, "type": "job", "job": view}
        return len(json.dumps(view, separators=(",", ":"))), len(json.dumps(message))

    whole = {**job, "result": {"files": files, "zip": job["result"]["zip"]}}
    bare = [{k: v for k, v in f.items() if k not in ("kind", "duration", "preview")} for f in files]
    return {
        "paged": weigh(job),
        "whole": weigh(whole),
        "bare": weigh({**job, "result": {"files": bare, "zip": job["result"]["zip"]}}),
    }


class _Bytes:
    """Bytes the page received, through the DevTools protocol (HTTP and WebSocket)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.total = 0
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", self._http)
        cdp.on("Network.webSocketFrameReceived", self._frame)

    def _http(self, event: dict[str, Any]) -> None:
        self.total += int(event.get("encodedDataLength") or 0)

    def _frame(self, event: dict[str, Any]) -> None:
        self.total += len(event["response"].get("payloadData") or "")


_PAINTS = """() => {
  const paint = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  const nav = performance.getEntriesByType("navigation")[0];
  return { fp: paint("first-paint"), fcp: paint("first-contentful-paint"),
           load: nav.loadEventEnd, html: nav.encodedBodySize };
}"""
_SHOWN = """(gallery) => {
  const job = document.querySelector(".job");
  if (!gallery) return job.querySelectorAll(".file-links a").length > 0;
  const imgs = Array.from(job.querySelectorAll(".tile img"));
  const inView = imgs.filter((i) => i.getBoundingClientRect().top < innerHeight);
  return imgs.length > 0 && inView.every((i) => i.complete && i.naturalWidth > 0);
}"""


def _visit(browser: Any, base: str, gallery: bool) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    # Both modes go through the same interception, so neither pays for it alone.
    page.route(
        "**/static/gallery.js", lambda route: route.continue_() if gallery else route.abort()
    )
    received = _Bytes(context, page)
    try:
        page.goto(base, wait_until="load")
        page.wait_for_selector(".job summary")
        page.wait_for_load_state("networkidle")
        time.sleep(0.3)  # the event stream's snapshot
        got: dict[str, float] = page.evaluate(_PAINTS)
        got["bytes"] = received.total
        before = received.total
        pictures = "performance.getEntriesByType('resource')"
        pictures += ".filter(r => r.initiatorType === 'img').length"
        already = page.evaluate(pictures)
        started = time.monotonic()
        page.click(".job summary")
        page.wait_for_function(_SHOWN, arg=gallery, timeout=60_000)
        got["unfold"] = time.monotonic() - started
        page.wait_for_load_state("networkidle")
        got["unfold_bytes"] = received.total - before
        got["elements"] = page.evaluate("document.getElementsByTagName('*').length")
        got["previews"] = page.evaluate(pictures) - already
        return got
    finally:
        context.close()


def run(args: argparse.Namespace) -> Result:
    photos = int(getattr(args, "gallery_photos", None) or max(20, round(1000 * args.scale)))
    files = photos + VIDEOS
    result = Result("gallery", f"the page with a finished job of {files} results")
    if not Path(CHROMIUM).exists():
        result.notes.append(f"no Chromium at {CHROMIUM}: nothing measured")
        return result
    from playwright.sync_api import sync_playwright

    with scratch("gallery", args.tmp_dir, args.keep) as work:
        progress(f"gallery: {photos} photos and {VIDEOS} videos")
        _inputs(work / "in", photos)
        progress("gallery: ferryman run (the link sink makes the previews)")
        seconds = _deliver(work / "in", work / "data")
        thumbs = sorted((work / "data" / "results").rglob(".thumbs/*.webp"))
        weight = sum(p.stat().st_size for p in thumbs)
        made = Table(["files delivered", "run", "previews", "preview bytes", "mean preview"])
        made.add(files, f"{seconds:.1f} s", len(thumbs), fmt_bytes(weight),
                 fmt_bytes(weight / max(1, len(thumbs))))  # fmt: skip
        with _web(work / "data") as base, sync_playwright() as p:
            view = _view_weight(base)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            for round_ in range(ROUNDS):
                for gallery in (False, True) if round_ % 2 == 0 else (True, False):
                    progress(f"gallery: round {round_ + 1}, {'gallery' if gallery else 'list'}")
                    runs[gallery].append(_visit(browser, base, gallery))
            browser.close()
        table = Table(["page", "first paint", "FCP", "load", "bytes on load", "unfold",
                       "bytes to unfold", "previews fetched", "elements"])  # fmt: skip
        mid: dict[bool, dict[str, float]] = {}
        for gallery, label in ((False, "links list, no gallery (baseline)"), (True, "gallery")):
            m = {k: median([r[k] for r in runs[gallery]]) for k in runs[gallery][0]}
            mid[gallery] = m
            table.add(label, f"{m['fp']:.0f} ms", f"{m['fcp']:.0f} ms", f"{m['load']:.0f} ms",
                      fmt_bytes(m["bytes"]), f"{m['unfold'] * 1000:.0f} ms",
                      fmt_bytes(m["unfold_bytes"]), f"{m['previews']:.0f}",
                      f"{m['elements']:.0f}")  # fmt: skip
        paint = mid[True]["fcp"] / mid[False]["fcp"]
        weight_ratio = mid[True]["bytes"] / mid[False]["bytes"]
        table.add("gallery vs baseline", "", f"{paint:.2f}x", "", f"{weight_ratio:.2f}x",
                  "", "", "", "")  # fmt: skip
        result.tables.append((f"Chromium, 1280x860, medians of {ROUNDS} loads each", table))
        result.tables.append(("the job (made once, previews at delivery)", made))
        weights = Table(["job view", "view (JSON)", "one live message", "files in it"])
        shapes = (
            ("bare", "every file, without kind, duration, preview (before the gallery)", files),
            ("whole", "every file (before pages, the baseline)", files),
            ("paged", f"one page of {PAGE} files and the totals (now)", min(PAGE, files)),
        )
        for key, label, count in shapes:
            weights.add(label, fmt_bytes(view[key][0]), fmt_bytes(view[key][1]), count)
        lighter = view["paged"][1] / view["whole"][1]
        message_target = MESSAGE_SLACK * min(PAGE, files) / files
        weights.add("now vs baseline", f"{view['paged'][0] / view['whole'][0]:.3f}x",
                    f"{lighter:.3f}x", "")  # fmt: skip
        result.tables.append(("what each job view weighs (GET, snapshot, every live"
                              " message while it delivers)", weights))  # fmt: skip
        result.checks += [
            Check("FCP, gallery vs list", f"{paint:.2f}x", f"<= {PAINT_TARGET}x",
                  paint <= PAINT_TARGET),
            Check("bytes on load, gallery vs list", f"{weight_ratio:.2f}x",
                  f"<= {BYTES_TARGET}x", weight_ratio <= BYTES_TARGET),
            Check("previews fetched on unfolding", f"{mid[True]['previews']:.0f}",
                  f"<= {PAGE}", mid[True]["previews"] <= PAGE),
            Check("one live message, one page vs every file", f"{lighter:.3f}x",
                  f"<= {message_target:.3f}x", lighter <= message_target),
        ]  # fmt: skip
        result.data = {"gallery": mid[True], "list": mid[False], "run_seconds": seconds,
                       "view_bytes": view}  # fmt: skip
    result.notes.append(
        "the server, Chromium and this process share the machine; the page's own HTML lists"
        f" the first {PAGE} files' links (the page without a script), in both modes"
    )
    return result
