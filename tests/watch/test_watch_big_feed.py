"""A big feed watched with ``--since all`` by a real ``ferryman web``: the feed is
taken in over several passes, each entry in a job once (a job a batch), while ``POST
/api/v1/jobs`` keeps answering (its median within a second) and ``web`` stops within
2 s in the middle of a check (before: one check of a 100,000-item feed held the store
for ten minutes, the API answered bare 500s and ``web`` took 10 s to stop).

The suite takes the same scenario at a tenth of the size, with passes a tenth as long
(10,000 entries, 2,500 a pass: four passes), so it costs about a minute rather than
eight; the 100,000-item run, with its figures, is ``python -m bench watch-big``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import bigfeed

ENTRIES = 10_000
PER_PASS = 2_500  # the default's 25,000 scaled as the feed is


@pytest.mark.slow
def test_a_big_feed_is_taken_in_passes_while_the_api_answers(tmp_path: Path) -> None:
    figures = bigfeed.run(tmp_path, ENTRIES, FERRYMAN_WATCH__ENTRIES_PER_PASS=str(PER_PASS))
    assert (figures.jobs, figures.seen) == (ENTRIES, ENTRIES)  # each entry in a job, once
    assert figures.passes >= 3, figures  # several passes, each giving way
    # Every call answered (before: bare 500s, pool timeouts, for ten minutes), most
    # within a second. Not yet every one: measured at load 10 to 14 on 2 cores, 15 of
    # 688 took 7.6 to 15.5 s (median 0.53 s; at rest 0.11, worst 0.24): the bench's
    # "< 1 s" target shows it (`python -m bench watch-big`). Those, and a call never
    # answered at load 27 to 49, were the batches' zip probes (a trickling origin)
    # holding every thread of the loop's shared pool, where the call's link check
    # waited (`net/own_thread`, tests/web/test_web_busy.py). Since: at load 12 the
    # worst of 647 calls took 1.6 s; at load 23 to 32, 9.1 and 2.4 s (two runs).
    assert figures.median(figures.checking) < 1.0, sorted(figures.checking)[-5:]
    assert figures.stop_checking < 2.0, figures.stop_checking
