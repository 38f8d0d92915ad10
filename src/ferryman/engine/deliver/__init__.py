"""The deliver stage: a sealed album to its sink, the next ones prepared ahead."""

from ferryman.engine.deliver.stage import STAGE, Delivering

__all__ = ["STAGE", "Delivering"]
