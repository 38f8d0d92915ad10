"""A module that takes 5 s to import: a template child processes fork from, loading it,
is as slow to answer as a phone loading PyAV and yt-dlp (tests/media/test_media_child.py)."""

import time

time.sleep(5)  # the slow load is the scenario, not a wait
