"""ferryman: archives, media files and links in; playable media out."""

from ferryman.lazy_httpx import install

__version__ = "0.1.0"

install()  # before any module of ferryman imports httpx (lazy_httpx)
