"""Media handling: what a file is, what it holds, and the cheapest way to make it playable.

``classify`` sniffs magic bytes, ``probe``/``probe_image`` read the streams, ``plan_for``
picks an action, and ``remux``/``transcode`` carry it out (in a killable child process
via ``child.run_in_child``, because FFmpeg work cannot be interrupted from a thread).
"""
