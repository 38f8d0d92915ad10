"""libarchive in a forked child a watchdog can end: the reader, the child, their wire, a stream."""
