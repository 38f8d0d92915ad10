"""The store's fast paths, each behind a method of the plain store that reads the same:
statements built once (statements), run on sqlite3 itself inside SQLite's thread
(sqlite_direct); the store on the standard library's sqlite3 for commands that answer
at once (sqlite3_store, with its schema as DDL: sqlite3_schema); a look at the queue
before the store loads (queued_child_work).
"""
