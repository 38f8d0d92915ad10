"""The last net of the program's entry point: a coded error a command lets through
still ends as `error CODE: message`, its next step and its exit code, never Typer's
traceback (`user add --password short` once printed one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli import root
from ferryman.frontdoors.cli.root import app
from ferryman.frontdoors.exit_codes import ExitCode


def test_a_coded_error_let_through_exits_by_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def leaky(**_: object) -> None:
        raise FerrymanError("job.not_found", "there is no job 7")

    monkeypatch.setattr(root, "app", leaky)
    monkeypatch.setattr(root, "err", root.console(stderr=True))  # onto capsys's stderr
    with pytest.raises(SystemExit) as ended:
        root.main()
    assert ended.value.code == ExitCode.FAILED
    said = capsys.readouterr().err
    assert "error job.not_found: there is no job 7" in said
    assert "next: Run `ferryman status` to list the jobs." in said


@pytest.mark.parametrize("port", ["99999", "-5"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    """`web --port 99999` ended in bind()'s OverflowError and its traceback; web.port,
    the setting, refused it already."""
    said = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "web", "--port", port], env={"FERRYMAN_CONFIG": None}
    )
    assert said.exit_code == ExitCode.USAGE, (said.output, said.exception)
    assert "Invalid value for '--port'" in said.output


HUGE = "99999999999999999999"  # past any INTEGER column: the database raised OverflowError


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["report", HUGE], ExitCode.FAILED, f"error job.not_found: there is no job {HUGE}"),
        (["password", HUGE, "pw"], ExitCode.FAILED, "error job.not_found"),
        (["links", HUGE], ExitCode.FAILED, "error job.not_found"),
        (["watch", "check", HUGE], ExitCode.USAGE, "Invalid value for '[ID]'"),
        (["watch", "pause", HUGE], ExitCode.USAGE, "Invalid value for 'ID'"),
        (["add", "--priority", HUGE, "x.zip"], ExitCode.USAGE, "Invalid value for '--priority'"),
    ],
)
def test_a_number_past_the_stores_integers_is_an_answer_not_a_traceback(
    tmp_path: Path, args: list[str], code: int, said: str
) -> None:
    ran = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), *args], env={"FERRYMAN_CONFIG": None}
    )
    assert ran.exit_code == code, (ran.output, ran.exception)
    assert said in ran.output
