"""Jobs: the queue's claims and waits (sql), what a person does (actions), how a job ends
(ends), the one insert (new, writer), the dashboard's counts (figures), a job's waits on
you (waited), queue positions and fairness (queue_position); the memory store's twin
(memory).
"""
