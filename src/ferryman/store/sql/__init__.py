"""What every aggregate's ``sql.py`` stands on: claims and leases (``base``), the
statements built once (``statements``) and their run on sqlite3 itself on SQLite's
thread (``sqlite_direct``). The fast paths live here and nowhere else: an aggregate's
method is its one entry point and chooses them inside; nothing outside ``store``
imports this package (``pyproject.toml``'s import contracts).
"""
