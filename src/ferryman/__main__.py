"""``python -m ferryman`` is the same as the ``ferryman`` command."""

from ferryman.frontdoors.cli import main

main()
