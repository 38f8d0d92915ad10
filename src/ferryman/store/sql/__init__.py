"""What every aggregate's ``sql.py`` stands on: the ways in (``access``), claims and
leases (``base``), the statements built once (``statements``) and their run on sqlite3
itself on SQLite's thread (``sqlite_direct``). The fast paths live here and nowhere
else: an aggregate's method is its one entry point and chooses them inside; nothing
outside ``store`` imports this package (``pyproject.toml``'s import contracts), and no
query module opens a connection or a transaction itself (``test_store_ways_in``).

Which way a statement goes, decided once: a read, ``Access._read`` (a module's constant
with bound parameters; one hop, on SQLite's thread through ``sqlite_direct``); reads that
must agree, ``Access._snapshot`` (one read transaction, the same way each); a write,
``Access._write`` (``conn.execute``: SQLAlchemy's compiled cache keys a statement built
per call by shape) or ``Access._transaction`` (run whole on SQLite's thread, where
``sqlite_direct.execute`` runs a statement built once; elsewhere it is ``conn.execute``).
"""
