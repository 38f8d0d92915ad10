"""Front doors: where people hand work in and watch it (the CLI, the Telegram chat).

Each parses its input, calls the engine's service functions (intake, control, report)
and renders the engine's events. All of them start the engine the same way
(``startup.running``). Nothing below this package imports it.
"""
