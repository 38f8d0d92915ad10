"""What the stages and operations share that is neither: leases, wake-ups,
work area, locks, space, events, retries, quarantine, child processes."""
