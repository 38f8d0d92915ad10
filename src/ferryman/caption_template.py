"""A caption template filled: light (no settings model), so a destination's own
``caption=`` option is checked where ``--help`` and the start-up commands parse it."""

from __future__ import annotations

import re
from string import Formatter

# A field's width or precision of four digits or more (``{album:>999999999}``) would
# make one caption gigabytes long: a template from a web client or a chat could
# exhaust memory. Telegram's captions hold 1,024 characters anyway.
_HUGE = re.compile(r"[0-9]{4,}")


def render_caption(template: str, **fields: object) -> str:
    """Fill a caption template; a bad one is refused when settings load, not mid-delivery."""
    try:
        for _literal, _field, spec, _conversion in Formatter().parse(template):
            if spec and _HUGE.search(spec):
                raise ValueError(f"a field's width is at most 999 ({spec!r})")
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + name + "}" for name in fields)
        raise ValueError(f"caption_template can use {known} only ({exc!r})") from exc
