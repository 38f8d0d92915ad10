"""The command line (Typer): the root app and its commands, one module by concern.

``main`` is the ``ferryman`` program: ``ferryman --version`` is answered here, before
Typer, Rich and the commands load (what a bug report asks for, at once); anything else
goes to the root app (``cli.root``)."""

from __future__ import annotations


def main() -> None:
    import sys

    if sys.argv[1:] == ["--version"]:
        from ferryman import __version__

        sys.stdout.write(f"ferryman {__version__}\n")
        return
    from ferryman.frontdoors.cli.root import main as root_main

    root_main()
