"""The job engine: stages, workers, leases, priorities and the space guard."""
