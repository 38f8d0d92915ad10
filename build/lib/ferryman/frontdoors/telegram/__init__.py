"""The chat as ferryman's front door: files in, jobs out, commands and a status per job."""

from ferryman.frontdoors.telegram.serve import serve

__all__ = ["serve"]
