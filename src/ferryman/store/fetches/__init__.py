"""A job's input downloaded first: claimed, done, retried, failed, memos (sql); the memory
store's twin (memory).
"""
