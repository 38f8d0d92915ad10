"""``python -m bench links``: a link to an HLS stream made into an MP4 and an MP3 by
ferryman, against the ``yt-dlp`` command line doing the same with a reference ffmpeg.

The input: an HLS master playlist of a ``--hls-minutes`` (5) minute video in 1080p and
720p (H.264, no sound) with a separate AAC audio rendition, made once by imageio-ffmpeg's
ffmpeg and cached (``cache_dir()``), served on loopback by the tests' fault server in a
child process (so its sending never waits on anyone's GIL).

Each run is a fresh process on a fresh data dir, timed from start to exit, its process
tree's peak RSS (VmHWM) and peak PSS sampled; ``os.sync()`` before each, so no run pays
for writing back the files the one before it left unsynced:
- ferryman: ``ferryman add URL --quality 1080p`` (not timed: it asks nothing of the
  network), then ``ferryman run --until-idle``: extraction, both downloads, the PyAV
  join, the probe of the result, delivery into the library;
- yt-dlp: ``yt-dlp -f "bv*[height<=1080]+ba" --merge-output-format mp4`` with
  ``--ffmpeg-location`` imageio-ffmpeg's binary (its merge);
- MP3 192: ``ferryman add URL --audio mp3 --bitrate 192`` against
  ``yt-dlp -x --audio-format mp3 --audio-quality 192K``.
Before the rounds, ferryman's own modules are compiled to bytecode
(``compile_like_an_install``), as pip does when it installs a package: yt-dlp's are.
The order alternates between rounds; the table shows medians. Targets: ferryman within
1.10x of yt-dlp for both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench._common import (
    Check,
    Result,
    Table,
    cache_dir,
    compile_like_an_install,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    median,
    progress,
    run_measured,
    scratch,
)

INPUT_VERSION = 1
TARGET = 1.10

_SERVER = """
import sys, time
from pathlib import Path
from tests.support.httpserve import serving
root = Path(sys.argv[1])
types = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
with serving() as server:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            web = "/" + path.relative_to(root).as_posix()
            server.add(web, path.read_bytes(), content_type=types.get(path.suffix))
    print(server.url("/master.m3u8"), flush=True)
    sys.stdin.read()
"""


def make_input(minutes: float) -> Path:
    """The cached HLS folder (master.m3u8, v1080/, v720/, audio/), made when missing."""
    from bench.media import ffmpeg_exe

    folder = cache_dir() / "links" / f"hls-{minutes:g}min-v{INPUT_VERSION}"
    if (folder / "master.m3u8").exists():
        progress(f"links: cached input {folder}")
        return folder
    progress(f"links: making a {minutes:g}-minute 1080p/720p HLS stream (cached in {folder})")
    ff = ffmpeg_exe()
    partial = folder.with_name(folder.name + ".partial")
    seconds = f"{minutes * 60:.0f}"
    for height, width in ((1080, 1920), (720, 1280)):
        out = partial / f"v{height}"
        out.mkdir(parents=True, exist_ok=True)
        _ffmpeg(
            ff,
            ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-t", seconds],
            ["-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p"],
            out,
        )
    audio = partial / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        ff,
        ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", seconds],
        ["-c:a", "aac", "-b:a", "128k", "-ac", "2"],
        audio,
    )
    (partial / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,AUTOSELECT=YES,'
        'URI="audio/index.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",'
        'AUDIO="aud"\nv1080/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",'
        'AUDIO="aud"\nv720/index.m3u8\n'
    )
    os.replace(partial, folder)
    return folder


def _ffmpeg(ff: str, source: list[str], codec: list[str], out: Path) -> None:
    cmd = [
        *(ff, "-hide_banner", "-loglevel", "error", "-y", *source, *codec),
        *("-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod"),
        *("-hls_segment_filename", str(out / "seg%04d.ts"), str(out / "index.m3u8")),
    ]
    subprocess.run(cmd, check=True, timeout=3600)


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {"FERRYMAN_DATA_DIR": str(data), "FERRYMAN_LINKS__CACHE_TTL": "0"}


def _ferryman(
    url: str, flags: list[str], work: Path, name: str
) -> tuple[float, dict[str, int], bool]:
    data = work / f"{name}-data"
    env = _env(data)
    added = subprocess.run(
        [sys.executable, "-m", "ferryman", "add", url, *flags], env=env, capture_output=True
    )
    if added.returncode != 0:
        raise RuntimeError(added.stderr.decode())
    cmd = [sys.executable, "-m", "ferryman", "run", "--until-idle"]
    done = run_measured(
        cmd, env=env, log=work / f"{name}.log", interval=0.1, probes={}, timeout=3600, pss=True
    )
    made = [p for p in (data / "library").rglob("*") if p.suffix in (".mp4", ".mp3")]
    return done.seconds, done.peaks, done.returncode == 0 and len(made) == 1


def _yt_dlp(
    url: str, flags: list[str], work: Path, name: str
) -> tuple[float, dict[str, int], bool]:
    from bench.media import ffmpeg_exe

    out = work / name
    out.mkdir()
    cmd = [
        *(sys.executable, "-m", "yt_dlp", "--quiet", "--no-progress", "--no-cache-dir"),
        *("--ffmpeg-location", ffmpeg_exe(), "-o", str(out / "out.%(ext)s"), *flags, url),
    ]
    done = run_measured(
        cmd,
        env=dict(os.environ),
        log=work / f"{name}.log",
        interval=0.1,
        probes={},
        timeout=3600,
        pss=True,
    )
    made = [p for p in out.iterdir() if p.suffix in (".mp4", ".mp3")]
    return done.seconds, done.peaks, done.returncode == 0 and len(made) == 1


CASES = {
    "MP4 1080p": (
        ["--quality", "1080p"],
        ["-f", "bv*[height<=1080]+ba", "--merge-output-format", "mp4"],
    ),
    "MP3 192": (
        ["--audio", "mp3", "--bitrate", "192"],
        ["-x", "--audio-format", "mp3", "--audio-quality", "192K"],
    ),
}


def run(args: argparse.Namespace) -> Result:
    minutes = float(getattr(args, "hls_minutes", None) or 5.0 * args.scale)
    rounds = args.repeat or 2
    result = Result("links", f"a {minutes:g}-minute 1080p HLS link: ferryman against yt-dlp")
    source = make_input(minutes)
    package = compile_like_an_install()
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(source)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root)),
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        table = Table(["output", "tool", "time", "peak RSS", "peak PSS", "vs yt-dlp"])
        with scratch("ferryman-bench-links-", args.tmp_dir, args.keep) as work:
            for case, (ours, theirs) in CASES.items():
                times: dict[str, list[float]] = {"yt-dlp": [], "ferryman": []}
                peaks: dict[str, list[int]] = {"yt-dlp": [], "ferryman": []}
                shares: dict[str, list[int]] = {"yt-dlp": [], "ferryman": []}
                for n in range(rounds):
                    order = ["yt-dlp", "ferryman"] if n % 2 == 0 else ["ferryman", "yt-dlp"]
                    for tool in order:
                        progress(f"links: {case}, {tool}, round {n + 1} of {rounds}")
                        slug = f"{case.replace(' ', '')}-{tool}-{n}"
                        measure = _ferryman if tool == "ferryman" else _yt_dlp
                        # The last run's files (yt-dlp leaves ~400 MB unsynced) are not
                        # written back during this one, at its expense.
                        os.sync()
                        seconds, peak, ok = measure(
                            url, ours if tool == "ferryman" else theirs, work, slug
                        )
                        if not ok:
                            raise RuntimeError(f"{tool} failed on {case}; see {work / slug}.log")
                        times[tool].append(seconds)
                        peaks[tool].append(peak["hwm"])
                        shares[tool].append(peak.get("pss", 0))
                base = median(times["yt-dlp"])
                for tool in ("yt-dlp", "ferryman"):
                    mid = median(times[tool])
                    table.add(
                        case,
                        tool,
                        fmt_seconds(mid),
                        fmt_bytes(max(peaks[tool])),
                        fmt_bytes(max(shares[tool])),
                        fmt_ratio(mid / base),
                    )
                ratio = median(times["ferryman"]) / base
                result.checks.append(
                    Check(
                        f"{case}: time vs yt-dlp",
                        fmt_ratio(ratio),
                        f"<= {TARGET}x",
                        ratio <= TARGET,
                    )
                )
                result.data[case] = {"times": times, "peaks": peaks}
                result.notes.append(
                    f"{case}: each run, s: "
                    + "; ".join(
                        f"{tool} " + ", ".join(f"{t:.2f}" for t in times[tool])
                        for tool in ("yt-dlp", "ferryman")
                    )
                )
        result.tables.append(("", table))
        result.notes.append(
            f"medians of {rounds} rounds, order alternating; the input is served on loopback"
            " (no bandwidth limit), so the time is the tools' own work"
        )
        result.notes.append(
            "peak RSS: the kernel's high-water mark of each process in the tree, summed (a"
            " page shared by two processes, as ferryman's child and the template it forks"
            " from share theirs, counts twice); peak PSS: the tree's proportional set size,"
            " sampled every 0.1 s (each page once in all)"
        )
        result.notes.append(
            f"ferryman's modules were compiled to bytecode first ({package}), as pip does"
            " at install: yt-dlp's, installed, are compiled too"
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    return result
