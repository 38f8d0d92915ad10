"""Make the page's app icons (``src/ferryman/web/static/icon-*.png`` and ``icon.svg``):
a play triangle riding a wave on ferryman's blue. Run from the repository's root after
changing the drawing; the PNGs are committed so a build needs no Pillow step."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parents[1] / "src/ferryman/web/static"
BLUE, WHITE = (37, 99, 235, 255), (255, 255, 255, 255)


def icon(size: int) -> Image.Image:
    """Drawn at 4× and scaled down, for smooth edges; full-bleed (a maskable icon)."""
    big = size * 4
    image = Image.new("RGBA", (big, big), BLUE)
    draw = ImageDraw.Draw(image)
    u = big / 100
    draw.polygon([(38 * u, 24 * u), (38 * u, 60 * u), (68 * u, 42 * u)], fill=WHITE)
    for n in range(4):  # the wave: four half circles
        x = 18 * u + n * 16 * u
        draw.arc([x, 64 * u, x + 16 * u, 80 * u], 180 if n % 2 == 0 else 0,
                 360 if n % 2 == 0 else 180, fill=WHITE, width=round(5 * u))  # fmt: skip
    return image.resize((size, size), Image.Resampling.LANCZOS)


SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<rect width="100" height="100" fill="#2563eb"/>
<path d="M38 24v36l30-18z" fill="#fff"/>
<path d="M18 72a8 8 0 0 1 16 0a8 8 0 0 0 16 0a8 8 0 0 1 16 0a8 8 0 0 0 16 0"
 fill="none" stroke="#fff" stroke-width="5"/>
</svg>
"""


def main() -> None:
    for size in (192, 512):
        icon(size).save(STATIC / f"icon-{size}.png", optimize=True)
    (STATIC / "icon.svg").write_text(SVG)


if __name__ == "__main__":
    main()
