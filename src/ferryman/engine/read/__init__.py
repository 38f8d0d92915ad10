"""The read stage (``unpack`` in the pipeline): a job's input read entry by entry,
staged, prepared and recorded in batches, waiting for room when it must."""

from ferryman.engine.read.unpack import read_options
from ferryman.engine.read.worker import STAGE

__all__ = ["STAGE", "read_options"]
