"""Watches: added, claimed when due, checked, their entries recorded as jobs exactly once
(sql, records); the memory store's twin (memory).
"""
