"""What the SQL and the memory stores share with the engine: rows as the model's
records (``rows``)."""
