"""Templates bounded and plain (issue 56, item 4): ``caption_template``, a destination's
``caption=`` and ``library_layout`` take plain field names and widths up to 999, checked
by one parser (``template_fields``) when the setting is set or read, never first at a
delivery. The parser is total and what it accepts renders bounded (Hypothesis, a fixed
seed, a bounded number of examples)."""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.caption_template import render_caption
from ferryman.config import load_settings, with_runtime
from ferryman.config.edit import set_key
from ferryman.errors import ERRORS, FerrymanError
from ferryman.sinks.layout import FIELDS, check_template, render
from ferryman.sinks.options import split
from ferryman.template_fields import MAX_WIDTH, TemplateError, check

BOUNDED = settings(
    max_examples=300,
    derandomize=True,  # a fixed seed: the same examples every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CAPTION = {"job_name": "Holiday", "album": 2, "albums": "3", "items": 10}
HOSTILE = [
    "{job_name.__class__.__mro__}",
    "{job_name.__class__}",
    "{job_name[0]}",
    "{album.real}",
    "{job_name!r}",
    "{}",
    "{0}",
    "{album:>1000}",
    "{album:>999999999}",
    "{album:.5000}",
    "{job_name:>{album}}",
    "{job_name:{items}}",
    "{job_name",
    "job_name}",
]
LAYOUTS = [
    "{name:>500000000}",
    "{name.__class__}/{name}",
    "{source[0]}/{name}",
    "{source}/{name:.1000}",
    "{date:%500000000Y}/{name}",
    "{date:%-1000d}/{name}",
    "{date:{album}}/{name}",
    "{name!s}",
    "{index:d}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_a_caption_with_an_attribute_an_index_or_a_huge_width_is_refused(template: str) -> None:
    with pytest.raises(ValueError, match=r"caption_template can use \{job_name\}"):
        render_caption(template, **CAPTION)


@pytest.mark.parametrize("template", LAYOUTS)
def test_a_layout_with_an_attribute_an_index_or_a_huge_width_is_refused(template: str) -> None:
    with pytest.raises(FerrymanError) as refused:
        check_template(template)
    assert refused.value.code == "config.invalid"
    with pytest.raises(FerrymanError):  # an old stored one, never checked: before a file
        render(template, dict.fromkeys(FIELDS, "x"), datetime(2001, 2, 3))


@pytest.mark.parametrize(
    ("key", "template"),
    [
        ("library_layout", "{name:>500000000}"),
        ("library_layout", "{source.__class__}/{name}"),
        ("caption_template", "{job_name.__class__.__mro__}"),
        ("caption_template", "{album:>1000}"),
    ],
)
def test_refused_when_set_read_or_overridden_with_a_code_and_a_next_step(
    key: str, template: str, tmp_path: Path
) -> None:
    """``config set``, the settings file, the environment's and the store's runtime
    overrides: each says ``config.invalid`` and what to do, and nothing is written."""
    file = tmp_path / "ferryman.toml"
    with pytest.raises(FerrymanError) as refused:
        set_key(file, key, template)
    assert refused.value.code == "config.invalid" and key in refused.value.message
    assert ERRORS["config.invalid"].next_step
    assert not file.exists()
    file.write_text(f"{key} = {template!r}\n".replace("'", '"'))
    with pytest.raises(FerrymanError, match=key):
        load_settings(file)
    with pytest.raises(FerrymanError):
        load_settings(None, {key: template})
    if key == "caption_template":  # a runtime key: config set on a running engine, /settings
        with pytest.raises(FerrymanError, match="caption_template"):
            with_runtime(load_settings(None, {"data_dir": tmp_path}), {key: template})


def test_a_destinations_caption_option_is_refused_as_it_is_given() -> None:
    """The API's and the chat's ``to``/``/settings caption`` go through ``split``."""
    for template in ("{job_name.__class__}", "{album:>1000}", "{job_name[0]}"):
        with pytest.raises(FerrymanError) as refused:
            split("telegram:me?caption=" + template.replace("{", "%7B").replace("}", "%7D"))
        assert refused.value.code == "sink.unknown" and "caption can use" in refused.value.message


def test_plain_fields_and_widths_up_to_999_still_work() -> None:
    assert render_caption("{job_name} — {album}/{albums}", **CAPTION) == "Holiday — 2/3"
    assert len(render_caption("{job_name:>999}", **CAPTION)) == 999
    assert render_caption("{album:03d} {{literal}}", **CAPTION) == "002 {literal}"
    check_template("{source}/{date:%Y/%m}/{album:>04}-{title:.40}.{ext}")
    made = render("{date:%Y/%m}/{name:.3}", {"name": "photo.jpg"}, datetime(2001, 2, 3))
    assert str(made) == "2001/02/pho"


# Template text as people (and attackers) write it: literal text, braces, known and
# unknown names, dots, indexes, conversions, nested fields and widths of any size.
_NAMES = st.sampled_from(["job_name", "album", "albums", "items", "name", "date", "x", "", "0"])
_SPECS = st.one_of(
    st.just(""),
    st.integers(0, 10**12).map(lambda n: f":>{n}"),
    st.integers(0, 10**6).map(lambda n: f":.{n}"),
    st.sampled_from([":d", ":s", ":%Y/%m", ":%5000Y", ":{album}", ":>{items}", ":x<10", ":,"]),
    st.text(string.printable, max_size=8).map(lambda s: ":" + s),
)
_TAILS = st.sampled_from(["", ".__class__", "[0]", "!r", "!s", ".real.imag", "!"])
_FIELD = st.builds(lambda n, t, s: "{" + n + t + s + "}", _NAMES, _TAILS, _SPECS)
_TEMPLATE = st.lists(
    st.one_of(_FIELD, st.text(max_size=6), st.sampled_from(["{", "}", "{{", "}}", "/"])),
    max_size=8,
).map("".join)


@BOUNDED
@given(_TEMPLATE)
def test_the_parser_is_total_and_what_it_accepts_renders_bounded(template: str) -> None:
    """Any text: its fields, or a ``TemplateError`` saying what is wrong; a caption it
    accepts is filled plainly (no field beyond a name), its length bounded."""
    try:
        pieces = check(template, CAPTION)
    except TemplateError as exc:
        assert str(exc)
        return
    fields = [p for p in pieces if p.field is not None]
    assert all(p.field in CAPTION for p in fields)
    try:
        made = render_caption(template, **CAPTION)
    except ValueError as exc:  # a format that does not fit its value: {job_name:d}
        assert "caption_template can use" in str(exc)
        return
    longest = max(len(str(v)) for v in CAPTION.values())
    assert len(made) <= len(template) + len(fields) * (MAX_WIDTH + longest)


@BOUNDED
@given(_TEMPLATE)
def test_a_layout_is_refused_with_its_code_or_renders_inside_the_library(template: str) -> None:
    try:
        check_template(template)
    except FerrymanError as exc:
        assert exc.code == "config.invalid"
        return
    made = render(template, dict.fromkeys(FIELDS, "a/b.jpg"), datetime(2001, 2, 3))
    assert not made.is_absolute() and ".." not in made.parts
    # a value's "/" makes no folder; every name fits a file system's (255 bytes)
    assert len(made.parts) <= template.count("/") + 1
    assert all(len(part.encode()) <= 255 for part in made.parts)


@BOUNDED
@given(st.sampled_from(sorted(CAPTION)), st.integers(0, 10**9))
def test_a_width_is_accepted_exactly_up_to_999(field: str, width: int) -> None:
    template = "{" + field + ":>" + str(width) + "}"
    if width <= MAX_WIDTH:
        assert len(render_caption(template, **CAPTION)) == max(width, len(str(CAPTION[field])))
    else:
        with pytest.raises(ValueError, match="width is at most 999"):
            render_caption(template, **CAPTION)
