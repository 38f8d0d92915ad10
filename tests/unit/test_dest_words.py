"""A destination in a person's words: notices and the page's watch cards say "to the
library", not the ``library:`` a person typed on the command line."""

from __future__ import annotations

import pytest

from ferryman.sinks.builtin import default_sinks


@pytest.mark.parametrize(
    ("dest", "words"),
    [
        ("library:", "the library"),
        ("library:/srv/photos", "the folder /srv/photos"),
        ("link:", "a download link"),
        ("telegram:me", "Saved Messages in Telegram"),
        ("telegram:@trip", "the Telegram chat @trip"),
        ("telegram:-1001234/topic/7", "the Telegram chat -1001234, topic 7"),
        ("telegram:@trip?as=documents&caption=x", "the Telegram chat @trip"),
        ("nowhere:at-all", "nowhere:at-all"),  # a kind this registry lacks: as it is
        ("plain", "plain"),
    ],
)
def test_a_destination_in_words(dest: str, words: str) -> None:
    assert default_sinks().words(dest) == words
