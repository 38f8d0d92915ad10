"""The chat as ferryman's front door: files in, jobs out, commands and a status per job."""

from ferryman.telegram.frontdoor.serve import serve

__all__ = ["serve"]
