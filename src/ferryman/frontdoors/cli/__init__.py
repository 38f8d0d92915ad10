"""The command line (Typer): the root app and its commands, one module by concern."""
