"""The deliver stage: a sealed album to its sink, the next ones prepared ahead."""

from ferryman.engine.deliver.step import deliver

__all__ = ["deliver"]
