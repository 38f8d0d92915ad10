"""libarchive through ctypes as a backend: the reader, an entry, the C calls, messages."""
