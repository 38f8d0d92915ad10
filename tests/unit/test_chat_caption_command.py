"""A file's caption: only ``/settings thumbnail`` makes the photo a setting's instead of
a job; an archive sent with "/pass s3cret" or any other words is still a job."""

from __future__ import annotations

import pytest

from ferryman.frontdoors.telegram.door import _sets_thumbnail


@pytest.mark.parametrize(
    ("caption", "setting"),
    [
        ("/settings thumbnail", True),
        ("/settings  thumbnail default", True),
        ("/pass s3cret", False),
        ("/settings caption {job_name}", False),
        ("to: @trip choose", False),
        ("", False),
    ],
)
def test_only_the_thumbnail_setting_takes_a_file(caption: str, setting: bool) -> None:
    assert _sets_thumbnail(caption) is setting
