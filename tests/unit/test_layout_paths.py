"""``{path}`` in a library layout: whatever folders an input names, the rendered path
stays inside the library, never names a hidden folder, and keeps the input's folders."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.sinks.layout import DEFAULT, input_folders, render, source_folder

_PART = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(parts=st.lists(_PART, max_size=6), job=_PART, name=_PART)
def test_any_input_folders_render_inside_the_library(parts: list[str], job: str, name: str) -> None:
    source_path = "/".join([*parts, name or "x.jpg"])
    values = {"source": job or "job", "path": input_folders(source_path, job), "name": name}
    for template in (DEFAULT, "{path}/{name}", "{date:%Y}/{path}/{source}/{name}"):
        rendered = render(template, values, datetime(2020, 1, 2))
        assert not rendered.is_absolute()
        assert not {"..", ".", ""} & set(rendered.parts)
        assert not any(part.startswith(".") for part in rendered.parts)


def test_input_folders_keep_the_folders_and_drop_the_top_one_the_job_is_named_by() -> None:
    assert input_folders("2023/Summer/IMG_0001.jpg", "photos") == "2023/Summer"
    assert input_folders("Trip/2023/IMG_0001.jpg", "Trip") == "2023"
    assert input_folders("trip/a.jpg", "Trip") == ""
    assert input_folders("IMG_0001.jpg", "IMG_0001") == ""
    assert input_folders("a\\b\\c.jpg", "x") == "a/b"
    # A second input of one top folder in the same place is counted (two Google
    # Takeouts, each `Takeout/`): its folder said once, as the first's, not
    # `Takeout (2)/Takeout/Google Photos`.
    assert input_folders("Takeout/Google Photos/a.jpg", "Takeout (2)") == "Google Photos"
    assert input_folders("Trip (2)/a/b.jpg", "Trip (2)") == "a"
    assert input_folders("Other/a/b.jpg", "Trip (2)") == "Other/a"


def test_a_google_takeout_export_again_shares_the_first_ones_folder() -> None:
    """`{source}` of a job named by Takeout's one folder, counted or not, is `Takeout`:
    the same account exported again grows one folder. Any other name keeps its count."""
    assert source_folder("Takeout", "/d/takeout-20240115T101112Z-001.zip") == "Takeout"
    assert source_folder("Takeout (2)", "/d/takeout-20250301T090000Z-001.zip") == "Takeout"
    assert source_folder("Takeout (3)", "/d/Takeout") == "Takeout"
    assert source_folder("Trip (2)", "/d/trip.zip") == "Trip (2)"
    assert source_folder("Takeout photos (2)", "/d/x.zip") == "Takeout photos (2)"
