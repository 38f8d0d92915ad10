"""HDR video (PQ or HLG, BT.2020) tone-mapped to the SDR BT.709 that H.264 8-bit plays.

A 10-bit HDR frame converted to 8-bit as it is keeps its PQ or HLG code values, which
an SDR player reads as BT.709: a grey, washed-out, wrongly hued picture. FFmpeg's own
path (``zscale`` to linear light, then ``tonemap``) needs libzimg, which the FFmpeg in
PyAV's wheels is built without; its ``colorspace`` filter knows neither PQ nor HLG. So
the whole mapping is one 3D look-up table, computed here and applied by ``lut3d``
(tetrahedral interpolation, 16-bit RGB): per colour, the transfer's inverse to linear
light (HLG with its 1000-nit system gamma), BT.2390's roll-off on the brightest channel
(hue kept) from ``_PEAK_NITS`` down to 203 nits as SDR white (BT.2408), BT.2020 to
BT.709 primaries, clipped into gamut, and BT.709's transfer. ``scale`` converts between
YUV and RGB around it, with the BT.2020 matrix in and the BT.709 matrix out, and the
encoder tags the stream BT.709.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

from av.filter import Graph
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

# FFmpeg's AVColorTransferCharacteristic values for HDR, and BT.709's values.
PQ, HLG = 16, 18
HDR_TRANSFERS = {PQ: "pq", HLG: "hlg"}
BT709, LIMITED = 1, 1  # AVCOL_PRI/TRC/SPC_BT709, AVCOL_RANGE_MPEG
FULL = 2

_LUT_SIZE = 33
_SDR_WHITE = 203.0  # nits that become SDR's white (BT.2408's HDR reference white)
_PEAK_NITS = 1000.0  # the brightest HDR level kept apart (HDR10 is graded to ~1000)
_HLG_PEAK = 1000.0
# BT.2020 → BT.709 primaries, linear light (ITU-R BT.2087).
_TO_709 = (
    (1.6605, -0.5876, -0.0728),
    (-0.1246, 1.1329, -0.0083),
    (-0.0182, -0.1006, 1.1187),
)


def hdr_transfer(video: VideoStream) -> str | None:
    """``"pq"`` or ``"hlg"`` when ``video`` is HDR, by its transfer tag; else None."""
    return HDR_TRANSFERS.get(int(video.codec_context.color_trc or 0))


def tag_bt709(ctx: VideoCodecContext) -> None:
    """Tag an encoder's output as limited-range BT.709, as the tone mapper writes it."""
    ctx.color_primaries = BT709
    ctx.color_trc = BT709
    ctx.colorspace = BT709
    ctx.color_range = LIMITED


_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32


def _pq_to_nits(code: float) -> float:
    p = max(code, 0.0) ** (1 / _M2)
    return float(10_000 * (max(p - _C1, 0.0) / (_C2 - _C3 * p)) ** (1 / _M1))


def _nits_to_pq(nits: float) -> float:
    y = (max(nits, 0.0) / 10_000) ** _M1
    return float(((_C1 + _C2 * y) / (1 + _C3 * y)) ** _M2)


def _hlg_to_scene(code: float) -> float:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return code * code / 3 if code <= 0.5 else (math.exp((code - c) / a) + b) / 12


def _linear_nits(rgb: tuple[float, float, float], transfer: str) -> tuple[float, float, float]:
    if transfer == "pq":
        r, g, b = (_pq_to_nits(v) for v in rgb)
        return r, g, b
    r, g, b = (_hlg_to_scene(v) for v in rgb)
    luma = 0.2627 * r + 0.6780 * g + 0.0593 * b
    gain = _HLG_PEAK * luma**0.2 if luma > 0 else 0.0  # BT.2100's OOTF, gamma 1.2
    return r * gain, g * gain, b * gain


def _eetf(nits: float) -> float:
    """BT.2390's roll-off: levels up to ~90 nits stay as they are, brighter ones are
    bent (in PQ, a Hermite spline) so that ``_PEAK_NITS`` lands on SDR white."""
    peak = _nits_to_pq(_PEAK_NITS)
    target = _nits_to_pq(_SDR_WHITE) / peak
    knee = 1.5 * target - 0.5
    e1 = min(_nits_to_pq(nits) / peak, 1.0)
    if e1 <= knee:
        return nits
    t = (e1 - knee) / (1 - knee)
    e2 = (
        (2 * t**3 - 3 * t**2 + 1) * knee
        + (t**3 - 2 * t**2 + t) * (1 - knee)
        + (-2 * t**3 + 3 * t**2) * target
    )
    return _pq_to_nits(e2 * peak)


def _bt709(light: float) -> float:
    light = min(max(light, 0.0), 1.0)
    return 4.5 * light if light < 0.018 else float(1.099 * light**0.45 - 0.099)


def sdr_colour(rgb: tuple[float, float, float], transfer: str) -> tuple[float, float, float]:
    """One HDR colour (BT.2020 RGB code values, 0–1) as SDR BT.709 RGB code values."""
    r, g, b = _linear_nits(rgb, transfer)
    brightest = max(r, g, b)
    if brightest > 0:  # the roll-off on the brightest channel: the hue stays
        scale = _eetf(brightest) / brightest / _SDR_WHITE
        r, g, b = r * scale, g * scale, b * scale
    rows = (row[0] * r + row[1] * g + row[2] * b for row in _TO_709)
    out = [_bt709(v) for v in rows]
    return out[0], out[1], out[2]


def write_cube(path: Path, transfer: str, size: int = _LUT_SIZE) -> None:
    """The look-up table as a ``.cube`` file (red varies fastest, as the format says)."""
    step = 1 / (size - 1)
    lines = [f"LUT_3D_SIZE {size}"]
    for bi in range(size):
        for gi in range(size):
            for ri in range(size):
                r, g, b = sdr_colour((ri * step, gi * step, bi * step), transfer)
                lines.append(f"{r:.6f} {g:.6f} {b:.6f}")
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def cube_file(transfer: str | None) -> Iterator[Path | None]:
    """The table for ``transfer`` in a temporary file, removed afterwards (None for
    an SDR source: nothing to map)."""
    if transfer is None:
        yield None
        return
    handle, name = tempfile.mkstemp(prefix="ferryman-hdr-", suffix=".cube")
    os.close(handle)
    path = Path(name)
    try:
        write_cube(path, transfer)
        yield path
    finally:
        path.unlink(missing_ok=True)


class ToneMapper:
    """Frames of one HDR source, scaled to ``size`` and tone-mapped to 8-bit 4:2:0 BT.709.

    The graph is built for the first frame's format and rebuilt if a frame differs.
    """

    def __init__(self, size: tuple[int, int], cube: Path) -> None:
        self._size = size
        self._cube = cube
        self._graph: Graph | None = None
        self._key: tuple[int, int, str, int] | None = None

    def convert(self, frame: VideoFrame) -> VideoFrame:
        key = (frame.width, frame.height, frame.format.name, int(frame.color_range or 0))
        if self._graph is None or key != self._key:
            self._graph, self._key = self._build(frame), key
        self._graph.vpush(frame)
        return self._graph.vpull()

    def _build(self, frame: VideoFrame) -> Graph:
        graph = Graph()
        width, height = self._size
        full = int(frame.color_range or 0) == FULL
        chain = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 1000),
            ),
            graph.add(
                "scale",
                width=str(width),
                height=str(height),
                flags="bicubic",
                in_color_matrix="bt2020",
                in_range="pc" if full else "tv",
                out_range="pc",
            ),
            graph.add("format", pix_fmts="gbrp16le"),
            graph.add("lut3d", file=str(self._cube), interp="tetrahedral"),
            graph.add("scale", out_color_matrix="bt709", out_range="tv", in_range="pc"),
            graph.add("format", pix_fmts="yuv420p"),
            graph.add("buffersink"),
        ]
        for upstream, downstream in pairwise(chain):
            upstream.link_to(downstream)
        graph.configure()
        return graph


__all__ = ["HDR_TRANSFERS", "ToneMapper", "cube_file", "hdr_transfer", "tag_bt709"]
