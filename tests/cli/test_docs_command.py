"""``ferryman docs [TOPIC]`` (issue 83): the docs a command points to are the ones the
install carries. The topics are the project's docs/*.md, shipped as package data; every
``ferryman docs X`` that ferryman says anywhere (help, next steps, messages, the page)
names one of them, and none says ``docs/X.md`` (which a ``pip install`` does not
carry). The wheel's own contents: ``tests/cli/test_wheel.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from ferryman.frontdoors.cli.docs import shipped
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ferryman"
POINTER = re.compile(r"ferryman docs ([a-z][\w-]*)")


def test_the_package_carries_every_doc_of_the_project() -> None:
    topics = shipped()
    assert sorted(topics) == sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert topics["web"].read_text(encoding="utf-8") == (ROOT / "docs" / "web.md").read_text(
        encoding="utf-8"
    )


def test_docs_lists_the_topics_with_their_titles() -> None:
    listed = CliRunner().invoke(app, ["docs"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"^web\s+The web page and the API$", listed.stdout, re.MULTILINE)
    assert re.search(r"^cli\s+The command line$", listed.stdout, re.MULTILINE)
    as_json = CliRunner().invoke(app, ["docs", "--json"])
    topics = json.loads(as_json.stdout)["topics"]
    assert {"topic": "telegram", "title": "Telegram"} in topics
    assert len(topics) == len(shipped())


def test_docs_topic_prints_it_whole_and_as_json() -> None:
    text = (ROOT / "docs" / "watch.md").read_text(encoding="utf-8")
    shown = CliRunner().invoke(app, ["docs", "watch"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == text.strip()
    for asked in ("docs/watch.md", "watch.md"):  # the old pointers' words work too
        assert CliRunner().invoke(app, ["docs", asked]).stdout.strip() == text.strip()
    said = json.loads(CliRunner().invoke(app, ["--json", "docs", "watch"]).stdout)
    assert said["topic"] == "watch" and said["text"] == text
    assert said["title"].startswith("Watches")


def test_an_unknown_topic_is_a_usage_error_that_names_the_closest() -> None:
    refused = CliRunner().invoke(app, ["docs", "telegramm"])
    assert refused.exit_code == ExitCode.USAGE
    assert "docs.unknown" in refused.stderr
    assert "ferryman docs telegram" in refused.stderr


def test_every_pointer_ferryman_gives_names_a_topic_it_carries() -> None:
    """In the source (help, next steps, messages, the page's HTML): each `ferryman docs
    X` resolves; no text a person sees names docs/X.md (docstrings, comments and the
    architecture notes may: they are for those reading the source)."""
    topics = shipped()
    pointers = 0
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for topic in POINTER.findall(text):
            pointers += 1
            assert topic in topics, f"{path.relative_to(SRC)}: `ferryman docs {topic}`"
    assert pointers >= 4  # the chat demo, cryptg's hint, notify.bad_url, the page
    from ferryman.error_codes import SPECS

    for spec in SPECS:
        assert not re.search(r"docs/\S+\.md", spec.next_step), spec.code
    for path in (SRC / "web").rglob("*"):
        if path.suffix in (".py", ".html", ".js") and path.is_file():
            shown = re.findall(r"<p>.*?</p>", path.read_text(encoding="utf-8"), re.DOTALL)
            for paragraph in shown:
                assert not re.search(r"docs/\S+\.md", paragraph), path
