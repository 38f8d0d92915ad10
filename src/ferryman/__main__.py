"""``python -m ferryman`` is the same as the ``ferryman`` command."""

from ferryman.cli import main

main()
