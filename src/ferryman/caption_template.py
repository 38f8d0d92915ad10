"""A caption template filled: light (no settings model), so a destination's own
``caption=`` option is checked where ``--help`` and the start-up commands parse it."""

from __future__ import annotations


def render_caption(template: str, **fields: object) -> str:
    """Fill a caption template; a bad one is refused when settings load, not mid-delivery."""
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + name + "}" for name in fields)
        raise ValueError(f"caption_template can use {known} only ({exc!r})") from exc
