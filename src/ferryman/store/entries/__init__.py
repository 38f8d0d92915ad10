"""What a job's read records: entries with the cursor (sql) and their items (items); the
memory store's twin is the albums' (albums/memory).
"""
