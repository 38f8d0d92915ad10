"""ferryman: archives, media files and links in; playable media out."""

__version__ = "0.1.0"
