"""The API's output takes subtitles and a library's extras (issue 80), as the CLI's
``--subs``/``--nfo`` and the chat's ``subs en,de``/``nfo`` do: one profile."""

from __future__ import annotations

import pytest

from ferryman.errors import FerrymanError
from ferryman.links.profile import Output, Profile
from ferryman.web.schemas import OutputSpec


def test_the_apis_output_asks_for_subtitles_and_the_librarys_extras() -> None:
    spec = OutputSpec.model_validate(
        {"kind": "video", "quality": "720p", "subs": ["en", "de"], "nfo": True}
    )
    assert spec.profile() == Profile(Output.VIDEO, 720, subs=("en", "de"), nfo=True)
    audio = OutputSpec.model_validate({"kind": "audio", "format": "mp3", "subs": ["en"]})
    assert audio.profile() == Profile(Output.MP3, None, subs=("en",))
    plain = OutputSpec.model_validate({"subs": ["pt-BR"]})
    assert plain.profile() == Profile(subs=("pt-BR",))  # as it is: the default MP4
    assert OutputSpec().profile() is None
    with pytest.raises(FerrymanError, match="language code"):
        OutputSpec.model_validate({"kind": "video", "subs": ["<b>"]}).profile()
