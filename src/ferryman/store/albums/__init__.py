"""Albums: sealed, claimed for delivery (chained), delivered, split, waiting for room
(sql); the memory store's albums and items (memory).
"""
