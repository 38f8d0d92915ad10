"""The phone ferryman runs on: Wi-Fi, battery. Waits with reasons, like ``space.low``."""
