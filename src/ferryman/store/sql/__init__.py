"""What every aggregate's ``sql.py`` stands on: claims and leases (``base``), the
statements built once (``statements``) and their run on sqlite3 itself on SQLite's
thread (``sqlite_direct``). The fast paths live here and nowhere else: an aggregate's
method is its one entry point and chooses them inside; nothing outside ``store``
imports this package (``pyproject.toml``'s import contracts).

Which way a statement goes, decided once: a read, ``StoreBase._read`` (one hop; on
SQLite's thread through ``sqlite_direct``); in a transaction run whole on SQLite's
thread (``sqlite_thread.transaction``), ``sqlite_direct.execute`` for a statement built
once (a module's constant; elsewhere it is ``conn.execute``), ``conn.execute`` for one
built per call (SQLAlchemy's compiled cache keys it by shape).
"""
