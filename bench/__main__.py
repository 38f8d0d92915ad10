"""``python -m bench [NAME|all]``: run benchmarks (names: see BENCHMARKS below).

Each prints its tables, baselines and ratios.

Exit status: 0 when every target was met, 1 when one was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    archives,
    conformance,
    conformance_images,
    fairness,
    folder_watch,
    gallery,
    joblist,
    links,
    media,
    memory,
    network,
    pipeline,
    rclone,
    scale,
    startup,
    streaming,
    telegram,
    telegram_aes,
    telegram_pool,
    telegram_stream,
    torbox,
    trip,
    wakeup,
    watch,
    web,
    webdav,
    zip_kills,
)
from bench._common import (
    Check,
    Result,
    compile_like_an_install,
    ferryman_env_note,
    machine_speed,
    progress,
    source_description,
)
from bench._load import spinning

BENCHMARKS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "pipeline": pipeline.run,
    "zip-kills": zip_kills.run,
    "streaming": streaming.run,
    "memory": memory.run,
    "archives": archives.run,
    "media": media.run,
    "telegram": telegram.run,
    "telegram-aes": telegram_aes.run,
    "telegram-pool": telegram_pool.run,
    "telegram-stream": telegram_stream.run,
    "startup": startup.run,
    "webdav": webdav.run,
    "torbox": torbox.run,
    "rclone": rclone.run,
    "network": network.run,
    "links": links.run,
    "wakeup": wakeup.run,
    "web": web.run,
    "web-subscribers": web.run_subscribers,
    "gallery": gallery.run,
    "jobs1000": joblist.run,
    "scale": scale.run,
    "conformance": conformance.run,
    "conformance-images": conformance_images.run,
    "watch": watch.run,
    "watch-big": watch.run_big,
    "watch-folder": folder_watch.run,
    "fairness": fairness.run,
    "trip": trip.run,
}

# name -> (default, environment variable); a flag beats the variable, which beats the default.
DEFAULTS: dict[str, tuple[float, str]] = {
    "items": (2000, "BENCH_ITEMS"),
    "entries": (500, "BENCH_ENTRIES"),
    "big_entries": (5000, "BENCH_BIG_ENTRIES"),
    "size_mb": (1024, "BENCH_SIZE_MB"),
    "small_mb": (256, "BENCH_SMALL_MB"),
    "archive_mb": (512, "BENCH_ARCHIVE_MB"),
    "tg_file_mb": (1024, "BENCH_TG_FILE_MB"),
    "tg_photos": (200, "BENCH_TG_PHOTOS"),
    "tg_resume_mb": (1536, "BENCH_TG_RESUME_MB"),
    "dav_files": (500, "BENCH_DAV_FILES"),
    "net_mb": (1024, "BENCH_NET_MB"),
    "tb_files": (60, "BENCH_TB_FILES"),
    "rclone_big_files": (400, "BENCH_RCLONE_BIG_FILES"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="ferryman benchmarks; each prints a table with its baseline and ratios.",
        epilog="Sizes also come from BENCH_ITEMS, BENCH_ENTRIES, BENCH_SIZE_MB, BENCH_SMALL_MB,"
        " BENCH_ARCHIVE_MB, BENCH_TG_FILE_MB, BENCH_TG_PHOTOS and BENCH_SCALE (flags win)."
        " Temporary files go to --tmp-dir (else $TMPDIR or /tmp) and are deleted afterwards.",
    )
    parser.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=["all", *BENCHMARKS],
        help="which benchmark to run (default: all)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE", "1")),
        help="multiply every default size by this (e.g. 0.1 for a smoke run, 4 for a long one)",
    )
    parser.add_argument("--items", type=int, help="pipeline: photos in the folder (2000)")
    parser.add_argument(
        "--repeat",
        type=int,
        help="pipeline: ferryman runs (1); archives: rounds per format (3);"
        " media: runs per measurement (3)",
    )
    parser.add_argument(
        "--input",
        choices=["folder", "zip"],
        default="folder",
        help="pipeline: the photos as a folder (linked into the work area) or a stored zip"
        " of them (each entry written and fsynced) (folder)",
    )
    parser.add_argument(
        "--photos",
        choices=["jpeg", "heic"],
        default="jpeg",
        help="pipeline: the photos as JPEGs or as an iPhone's HEICs (pillow-heif) (jpeg)",
    )
    parser.add_argument("--entries", type=int, help="streaming: entries in the zip (500)")
    parser.add_argument(
        "--big-entries",
        type=int,
        help="streaming: entries in the large zip, for the share of the run (5000; 0 skips it)",
    )
    parser.add_argument("--scale-jobs", type=int, help="scale: links added for each round (24)")
    parser.add_argument(
        "--size-mb",
        type=int,
        help="memory, trip: the big archive; telegram --download: the big file (MiB, 1024)",
    )
    parser.add_argument("--size-gb", type=float, help="memory: the big archive in GiB")
    parser.add_argument(
        "--small-mb", type=int, help="memory: the comparison archive in MiB (256; 0: skip)"
    )
    parser.add_argument("--entry-mb", type=float, default=4.0, help="memory: entry size (4)")
    parser.add_argument("--archive-mb", type=int, help="archives: the media data set in MiB (512)")
    parser.add_argument(
        "--formats",
        dest="archive_formats",
        default=",".join(archives.FORMAT_KEYS),
        help=f"archives: comma-separated formats to measure ({','.join(archives.FORMAT_KEYS)})",
    )
    parser.add_argument("--tg-file-mb", type=int, help="telegram: the big file in MiB (1024)")
    parser.add_argument("--tg-photos", type=int, help="telegram: photos in the folder (200)")
    parser.add_argument(
        "--tg-resume-mb", type=int, help="telegram: the file SIGKILLed and resumed, MiB (1536)"
    )
    parser.add_argument(
        "--tg-stream-mb", type=int, help="telegram, telegram-stream: the linked document, MiB (32)"
    )
    parser.add_argument(
        "--tg-stream-dc",
        type=int,
        help="telegram-stream: keep the document on this data centre (the accounts live on 2;"
        " 4: every read follows FILE_MIGRATE)",
    )
    parser.add_argument("--dav-files", type=int, help="webdav: photos in the folder (500)")
    parser.add_argument(
        "--tb-files", type=int, help="torbox, rclone: photos in the torrent, the folder (60)"
    )
    parser.add_argument(
        "--rclone-big-files",
        type=int,
        help="rclone: photos in its second, realistic run (400, ~460 MB; 0: none)",
    )
    parser.add_argument(
        "--rounds", type=int, help="wakeup: adds per case (20); web-subscribers: rounds (3)"
    )
    parser.add_argument("--watch-entries", type=int, help="watch: entries in the feed (1000)")
    parser.add_argument(
        "--watch-big-entries", type=int, help="watch-big: entries in the feed (100000)"
    )
    parser.add_argument("--slow-kb", type=int, help="fairness: the slow download, kB (600)")
    parser.add_argument("--slow-rate", type=float, help="fairness: its pace, kB/s (50)")
    parser.add_argument(
        "--hls-minutes", type=float, help="links: the HLS video's length in minutes (5)"
    )
    parser.add_argument(
        "--web-clients", type=int, help="web: WebSocket clients watching the jobs (1000)"
    )
    parser.add_argument(
        "--gallery-photos", type=int, help="gallery: photos in the finished job (1000)"
    )
    parser.add_argument(
        "--list-jobs", type=int, help="jobs1000: jobs on the page (1000), vs a page with none"
    )
    parser.add_argument("--web-seconds", type=float, help="web: seconds of fan-out (20)")
    parser.add_argument("--web-file-mb", type=int, help="web: the downloaded result, MiB (1024)")
    parser.add_argument("--web-upload-mb", type=int, help="web: the uploaded file, MiB (2048)")
    parser.add_argument("--net-mb", type=int, help="network: the zip over the link, MiB (1024)")
    parser.add_argument(
        "--size",
        dest="net_mb",
        type=_mebibytes,
        help="network: the zip over the link, with a unit: 256M, 1G (= --net-mb)",
    )
    parser.add_argument(
        "--tg-baseline-mb",
        type=int,
        help="telegram: MiB of the big file the baseline (Telethon's send_file) sends; default:"
        " the shortest prefix with Telethon's part size for the whole file (751 at 1 GiB)",
    )
    parser.add_argument(
        "--download",
        dest="tg_download",
        action="store_true",
        help="telegram: downloads (a message link, a watched channel; --size-mb, --tg-photos)"
        " against Telethon's download_media, instead of uploads",
    )
    parser.add_argument(
        "--tg-skip-costs",
        action="store_true",
        help="telegram: leave out the resume and CPU rows (bench/telegram_costs.py)",
    )
    parser.add_argument(
        "--tg-photos-in-process",
        action="store_true",
        help="telegram: also the photos row as it ran until 2026-11-27, client and fake in"
        " one process (for comparison)",
    )
    parser.add_argument(
        "--tg-pool-in-process",
        action="store_true",
        help="telegram, telegram-pool: the pool's runs as they ran until 2026-11-29, the"
        " engine and the fake in one process",
    )
    parser.add_argument(
        "--tg-skip-engine",
        action="store_true",
        help="telegram: leave out the big file through the whole engine",
    )
    parser.add_argument(
        "--trip-slower",
        choices=["both", "down", "up"],
        default="both",
        help="trip: only the row where this link is the slower one (both)",
    )
    parser.add_argument(
        "--trip-profile",
        choices=["both", "phone", "server"],
        default="both",
        help="trip: only this profile's ferryman runs (both)",
    )
    parser.add_argument(
        "--interval", type=float, default=0.05, help="memory: sampling period in seconds (0.05)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one ferryman run may take before it counts as failed (900)",
    )
    parser.add_argument("--tmp-dir", type=Path, help="where temporary inputs and outputs go")
    parser.add_argument("--keep", action="store_true", help="keep temporary files")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        help="processes that spin on the CPU for the whole run, a loaded machine of the"
        " bench's own (0)",
    )
    args = parser.parse_args(argv)

    args.archive_repeat = 3 if args.repeat is None else args.repeat
    args.media_repeat = args.archive_repeat
    if args.repeat is None:
        args.repeat = 1
    if args.size_gb is not None:
        args.size_mb = round(args.size_gb * 1024)
    for name, (default, env) in DEFAULTS.items():
        if getattr(args, name) is None:
            raw = os.environ.get(env)
            value = float(raw) if raw else default * args.scale
            setattr(args, name, max(1, round(value)) if value else 0)
    if args.small_mb >= args.size_mb:
        args.small_mb = 0  # nothing smaller to compare with
    if min(args.items, args.entries, args.size_mb, args.repeat, args.archive_mb) < 1:
        parser.error("--items, --entries, --size-mb, --archive-mb and --repeat must be at least 1")
    args.archive_formats = [f.strip() for f in args.archive_formats.split(",") if f.strip()]
    unknown = sorted(set(args.archive_formats) - set(archives.FORMAT_KEYS))
    if unknown or not args.archive_formats:
        parser.error(f"--formats: choose from {', '.join(archives.FORMAT_KEYS)}")
    if args.load < 0:
        parser.error("--load must be 0 or more")
    if args.interval <= 0 or args.entry_mb <= 0 or args.timeout <= 0:
        parser.error("--interval, --entry-mb and --timeout must be positive")
    if args.tmp_dir is not None:
        args.tmp_dir.mkdir(parents=True, exist_ok=True)
    return args


def _mebibytes(text: str) -> int:
    """``256M``, ``256MiB``, ``1G``, ``1.5GiB`` or a bare number of MiB, in MiB."""
    units = {"": 1, "m": 1, "mib": 1, "mb": 1, "g": 1024, "gib": 1024, "gb": 1024}
    number = text.strip().lower().rstrip("ibgm") or "0"
    unit = text.strip().lower()[len(number) :]
    try:
        return max(1, round(float(number) * units[unit]))
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (256M, 1G)") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = list(BENCHMARKS) if args.which == "all" else [args.which]
    header = (
        f"ferryman benchmarks — {platform.python_implementation()} {platform.python_version()},"
        f" {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    print(header)
    print(source_description())
    print(machine_speed())
    compile_like_an_install()  # every run's processes load compiled modules, as a user's do
    note = ferryman_env_note()
    if note:
        print(f"note: {note}")
    results: list[Result] = []
    started = time.perf_counter()
    with spinning(args.load):
        if args.load:
            print(f"load: {args.load} spinning process(es) for the whole run")
        _run_all(names, args, results)
    elapsed = time.perf_counter() - started
    print()
    verdicts = ", ".join(f"{r.name} {'PASS' if r.passed else 'FAIL'}" for r in results)
    print(f"done in {elapsed:.0f} s: {verdicts}")
    if args.json is not None:
        payload = {"header": header, "args": _jsonable(vars(args))}
        payload["results"] = [r.as_dict() for r in results]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    return 0 if all(r.passed for r in results) else 1


def _run_all(names: list[str], args: argparse.Namespace, results: list[Result]) -> None:
    for name in names:
        progress(f"running {name}")
        t0 = time.perf_counter()
        try:
            result = BENCHMARKS[name](args)
        except (Exception, TimeoutError) as exc:  # one broken benchmark must not hide the rest
            result = Result(name, "did not finish")
            result.checks.append(Check("ran to the end", f"{type(exc).__name__}: {exc}", "", False))
        result.data["bench_seconds"] = time.perf_counter() - t0
        results.append(result)
        print()
        print(result.render(), flush=True)


def _jsonable(values: dict[str, object]) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


if __name__ == "__main__":
    sys.exit(main())
