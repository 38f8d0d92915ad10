"""The page speaks web: every next step the page can show (a job's error, a wait, an
API error on the form) is in the page's words, never a shell command or a CLI flag."""

from __future__ import annotations

import re

import pytest

from ferryman.errors import ERRORS, page_step, spec_for
from ferryman.web.core import error_body

COMMAND = re.compile(r"`(ferryman|pip|kill)\b|ferryman (retry|password|remove|add)\b|--[a-z]")


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_no_step_the_page_shows_names_a_command(code: str) -> None:
    for failed in (False, True):
        step = page_step(code, failed=failed)
        assert step.strip(), code
        assert not COMMAND.search(step), (code, step)
    assert not COMMAND.search(error_body(code, "m")["error"]["next"])


def test_the_cli_keeps_its_own_words_and_the_page_has_buttons() -> None:
    assert "ferryman password JOB" in spec_for("archive.password_wrong").next_step
    assert "Password field" in page_step("archive.password_wrong")
    assert "--force" in spec_for("source.duplicate").next_step
    assert "add it again" in page_step("source.duplicate")
    assert "Retry" in page_step("source.io", failed=True)  # retried out: the button


def test_a_step_with_no_page_wording_drops_only_its_command_sentences() -> None:
    cli = spec_for("space.low").next_step
    kept = "Free disk space or lower `space_floor`; the job resumes itself."
    assert cli.startswith(kept) and "`ferryman config set space_floor" in cli
    assert page_step("space.low") == kept  # the command's sentence dropped, the rest kept
    unknown = page_step("no.such_code")  # a bug's step names `ferryman retry JOB`
    assert unknown and "ferryman retry" not in unknown
