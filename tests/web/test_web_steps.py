"""The page speaks web: every next step the page can show (a job's error, a wait, an
API error on the form) is in the page's words, never a shell command or a CLI flag."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from ferryman.config import Settings
from ferryman.errors import ERRORS, page_line, page_step, spec_for
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
    cli = spec_for("results.bucket").next_step
    kept = "The S3 results store failed (the status is in the message); it is retried."
    assert cli.startswith(kept) and "`ferryman config show`" in cli
    assert page_step("results.bucket") == kept  # the command's sentence dropped, the rest kept
    # space.low was the example once: its page words now name no setting either.
    assert "space_floor" in spec_for("space.low").next_step
    assert "space_floor" not in page_step("space.low")
    unknown = page_step("no.such_code")  # a bug's step names `ferryman retry JOB`
    assert unknown and "ferryman retry" not in unknown


def _setting_names() -> set[str]:
    """Every settings key, dotted (``network.stall_seconds``), and each leaf with an
    underscore (``space_floor``): words of the settings file, not of the page."""
    names: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, prefix + name + ".")
            else:
                names.add(prefix + name)

    walk(Settings, "")
    return {n for n in names if "." in n} | {n.rsplit(".", 1)[-1] for n in names if "_" in n}


# Refusals of an API request whose reader is whoever runs ferryman (the server's own
# names, a notice's address, a download link): they name the setting that allows it.
OPERATOR_ONLY = {"web.host_unknown", "notify.blocked", "link.expired", "link.blocked"}


@pytest.mark.parametrize("code", sorted(set(ERRORS) - OPERATOR_ONLY))
def test_no_step_the_page_shows_names_a_setting(code: str) -> None:
    names = _setting_names()
    assert "network.stall_seconds" in names and "space_floor" in names  # the model is read
    for failed in (False, True):
        step = page_step(code, failed=failed)
        words = set(re.findall(r"[a-z_]+(?:\.[a-z_]+)*", step))
        assert not words & names, (code, step)
        assert "`" not in step, (code, step)


def test_a_setting_to_type_is_one_exact_line_apart_from_the_words() -> None:
    line = page_line("content.login_required")
    assert line == "ferryman config set links.cookies_file ~/cookies.txt"
    assert line not in page_step("content.login_required")  # the card says it in words
    assert page_line("archive.truncated") is None  # nothing to type: no line
