"""The in-memory store: its rows, claims and leases (``base``), and the whole store
(``store``, ``MemoryStore``) made of each aggregate's ``memory.py``."""
