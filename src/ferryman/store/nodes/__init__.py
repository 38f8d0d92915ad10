"""The nodes that run against the store: heartbeats, drains, stops (sql); on the memory
store, with the runner's own reads (memory).
"""
