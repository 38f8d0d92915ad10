"""The read stage (``unpack`` in the pipeline): a job's input read entry by entry,
staged, prepared and recorded in batches, waiting for room when it must."""

from ferryman.engine.read.unpack import READS_A_GROUP, READS_AT_ONCE, expand, reads_at_once

__all__ = ["READS_AT_ONCE", "READS_A_GROUP", "expand", "reads_at_once"]
