"""The start-up store: SQLite through the standard library for the commands that
answer at once (``sqlite3_store``, with its schema as DDL: ``sqlite3_schema``), and a
look at the queue before the store loads (``queued_child_work``). It adds a job the
one way the full store does (``store/jobs/new.insert_job``).
"""
