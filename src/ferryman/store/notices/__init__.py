"""The notices' outbox: event rows written with the change they tell of, made into notices,
claimed, sent (sql); the memory store's twin (memory).
"""
