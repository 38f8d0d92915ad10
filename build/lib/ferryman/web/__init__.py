"""``ferryman web``: the page, the REST API under ``/api/v1`` and live events, in front
of the same engine and store as the CLI and the chat (see docs/web.md)."""
