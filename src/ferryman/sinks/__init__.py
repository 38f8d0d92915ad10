"""Where albums go. A sink is one module behind the ``Sink`` protocol."""
