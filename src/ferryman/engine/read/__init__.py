"""The read stage (``read`` in the pipeline): a job's input read entry by entry,
staged, prepared and recorded in batches, waiting for room when it must."""

from ferryman.engine.read.step import read_options
from ferryman.engine.read.worker import STAGE

__all__ = ["STAGE", "read_options"]
