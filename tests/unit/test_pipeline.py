"""The pipeline's list is the engine's truth: every stage it names runs, and every
wake-up topic the engine notifies or waits on is one the list accounts for."""

from __future__ import annotations

import re
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.pipeline import PIPELINE, STAGES, TOPICS

ENGINE = Path(__file__).resolve().parents[2] / "src" / "ferryman" / "engine"


def test_every_topic_a_step_wakes_is_known() -> None:
    for stage in PIPELINE:
        assert set(stage.wakes) <= set(TOPICS), stage.name
        assert stage.name not in stage.wakes  # its own workers claim again anyway


def test_every_topic_the_engine_names_is_in_the_list() -> None:
    named = set()
    for path in ENGINE.rglob("*.py"):  # every package of the engine
        text = path.read_text()
        for call in re.findall(r"wakeup\.(?:notify|mark)\(([^)]*)\)", text):
            named.update(re.findall(r'"([a-z]+)"', call))
        named.update(re.findall(r'topic="([a-z]+)"', text))
    assert named  # the scan reads the engine's calls
    assert named <= set(TOPICS), named - set(TOPICS)


def test_each_stage_runs_at_least_one_worker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert [stage.workers(settings) >= 1 for stage in PIPELINE] == [True] * len(STAGES)
    assert len(set(STAGES)) == len(STAGES)
