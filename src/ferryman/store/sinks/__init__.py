"""What a sink keeps in the store, scoped to its scheme: records and waits (sql); the
memory store's twin (memory).
"""
