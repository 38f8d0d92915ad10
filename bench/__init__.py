"""ferryman benchmarks: speed and memory targets, each measured against a baseline in the same run.

Run them all with ``python -m bench`` (``make bench``), or one with
``python -m bench pipeline|streaming|memory``; see ``bench/README.md``.
"""
