"""A caption template filled: light (no settings model), so a destination's own
``caption=`` option is checked where ``--help`` and the start-up commands parse it."""

from __future__ import annotations

from ferryman.template_fields import TemplateError, check

# A photo's own fields, from the album's items (``engine/deliver/step.photo_fields``):
# when the first was taken, where, and what its sidecar (a Google Takeout's) says.
PHOTO_FIELDS = ("taken", "place", "description")
NO_PHOTO_FIELDS = dict.fromkeys(PHOTO_FIELDS, "")


def render_caption(template: str, **fields: object) -> str:
    """Fill a caption template; a bad one is refused when settings load, not mid-delivery:
    its fields plain names of ``fields``, widths at most 999 (``template_fields``)."""
    known = ", ".join("{" + name + "}" for name in fields)
    try:
        check(template, fields)
        return template.format(**fields)
    except TemplateError as exc:
        raise ValueError(f"caption_template can use {known} only: {exc}") from None
    except (KeyError, IndexError, ValueError, TypeError) as exc:  # {items:s}: not a string
        raise ValueError(f"caption_template can use {known} only ({exc!r})") from exc
