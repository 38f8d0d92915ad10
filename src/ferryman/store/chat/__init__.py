"""The chat's own rows: files received (the inbox), status messages, a user's settings
(sql); the memory store's twin (memory).
"""
