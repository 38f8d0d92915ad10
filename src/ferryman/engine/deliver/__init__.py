"""The deliver stage: a sealed album to its sink, the next ones prepared ahead. What
others ask of it (start-up's sweep, the runner's warm-up and a job's final captions)
is named here, so they import the stage, not its modules."""

from ferryman.engine.deliver.step import captions_at_end, sweep_half_built, warm_sink
from ferryman.engine.deliver.worker import STAGE, Delivering

__all__ = ["STAGE", "Delivering", "captions_at_end", "sweep_half_built", "warm_sink"]
