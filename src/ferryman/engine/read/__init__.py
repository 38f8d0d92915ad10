"""The read stage (``unpack`` in the pipeline): a job's input read entry by entry,
staged, prepared and recorded in batches, waiting for room when it must."""

from ferryman.engine.read.unpack import expand

__all__ = ["expand"]
