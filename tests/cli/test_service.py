"""`ferryman service install | uninstall`: a Termux:Boot script or a systemd user unit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app


def _cli(tmp: Path, *args: str, termux: bool, **extra: str) -> tuple[int, str]:
    env = {"HOME": str(tmp / "home"), "FERRYMAN_CONFIG": ""} | extra
    if termux:
        env["TERMUX_VERSION"] = "0.118.0"
    done = CliRunner().invoke(app, ["--data-dir", str(tmp / "data"), *args], env=env)
    return done.exit_code, done.stdout


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERMUX_VERSION", raising=False)
    monkeypatch.setenv("PREFIX", "/usr/local")


# Telegram set up and logged in: what `telegram serve` needs before it serves.
TELEGRAM = {"FERRYMAN_TELEGRAM__API_ID": "12345", "FERRYMAN_TELEGRAM__API_HASH": "0" * 32}


def _logged_in(tmp: Path) -> None:
    (tmp / "data" / "telegram").mkdir(parents=True, exist_ok=True)
    (tmp / "data" / "telegram" / "ferryman.session").write_bytes(b"")


def test_on_termux_a_boot_script_takes_a_wake_lock_and_serves(tmp_path: Path) -> None:
    code, shown = _cli(tmp_path, "service", "install", "--print", termux=True, **TELEGRAM)
    boot = tmp_path / "home" / ".termux" / "boot" / "ferryman"
    assert code == 0 and not boot.exists()  # --print writes nothing
    assert "termux-wake-lock" in shown and "telegram serve" in shown
    _logged_in(tmp_path)
    code, said = _cli(tmp_path, "service", "install", termux=True, **TELEGRAM)
    assert code == 0 and "Termux:Boot" in said
    text = boot.read_text()
    assert text.startswith("#!/data/data/com.termux/files/usr/bin/sh\n")
    assert f"--data-dir {tmp_path / 'data'} telegram serve" in text
    assert str(tmp_path / "data" / "ferryman.log") in text
    assert stat.S_IMODE(boot.stat().st_mode) == 0o700
    code, said = _cli(tmp_path, "service", "uninstall", termux=True)
    assert code == 0 and not boot.exists()


@pytest.mark.parametrize("termux", [False, True])
def test_a_chat_that_cannot_be_served_yet_is_not_installed(tmp_path: Path, termux: bool) -> None:
    """`service install --command serve` wrote a service that failed at every start,
    restarted for ever, without Telegram's keys or a login; it says so instead."""
    folder = tmp_path / "home" / (".termux/boot" if termux else ".config/systemd/user")
    refused = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "data"), "service", "install", "--command", "serve"],
        env={"HOME": str(tmp_path / "home"), "FERRYMAN_CONFIG": ""}
        | ({"TERMUX_VERSION": "0.118.0"} if termux else {}),
    )
    assert refused.exit_code == 4 and "telegram.not_configured" in refused.stderr
    assert "nothing was written" in refused.stderr and "--command run" in refused.stderr
    code, _ = _cli(tmp_path, "service", "install", termux=termux, **TELEGRAM)
    assert code == 4  # keys, but no login yet
    assert not folder.exists() or list(folder.iterdir()) == []
    _logged_in(tmp_path)
    assert _cli(tmp_path, "service", "install", termux=termux, **TELEGRAM)[0] == 0
    assert _cli(tmp_path, "service", "install", "--command", "run", termux=termux)[0] == 0


def test_a_shell_with_only_termux_s_prefix_is_a_phone_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFIX", "/data/data/com.termux/files/usr")
    code, shown = _cli(tmp_path, "service", "install", "--print", termux=False)
    assert code == 0 and "termux-wake-lock" in shown and "systemd" not in shown


def test_elsewhere_a_systemd_user_unit_restarts_the_engine(tmp_path: Path) -> None:
    code, said = _cli(tmp_path, "service", "install", "--command", "run", termux=False)
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "ferryman.service"
    assert code == 0 and "systemctl --user daemon-reload" in said
    text = unit.read_text()
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(f"-m ferryman --data-dir {tmp_path / 'data'} run")
    assert _cli(tmp_path, "service", "uninstall", termux=False)[0] == 0
    assert not unit.exists()
    code, said = _cli(tmp_path, "service", "uninstall", termux=False)
    assert code == 0 and "nothing to do" in said


def test_the_web_page_can_start_with_the_machine(tmp_path: Path) -> None:
    code, shown = _cli(tmp_path, "service", "install", "--command", "web", "--print", termux=False)
    exec_line = next(line for line in shown.splitlines() if line.startswith("ExecStart="))
    assert code == 0 and exec_line.endswith(f"--data-dir {tmp_path / 'data'} web")


def test_the_service_starts_with_the_config_and_variables_it_was_installed_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker of several machines: its config file names the PostgreSQL store and its
    node name comes from the environment; the unit must carry both, or it would start
    a SQLite engine of its own on the shared data dir."""
    config = tmp_path / "ferryman.toml"
    config.write_text('database_url = "postgresql://ferryman@db.internal/ferryman"\n')
    for name in [k for k in __import__("os").environ if k.startswith("FERRYMAN_")]:
        monkeypatch.delenv(name)
    env = {"HOME": str(tmp_path / "home"), "FERRYMAN_CONFIG": str(config)}
    args = ["--data-dir", str(tmp_path / "data"), "service", "install"]
    assert CliRunner().invoke(app, [*args, "--command", "run"], env=env).exit_code == 0
    env |= {"FERRYMAN_NODE_NAME": "worker-1", "FERRYMAN_TELEGRAM__API_HASH": 'p"w 50%\nx'}
    done = CliRunner().invoke(app, [*args, "--command", "web", "--no-engine"], env=env)
    assert done.exit_code == 0, done.output
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "ferryman.service"
    text = unit.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert f"-m ferryman --config {config} --data-dir {tmp_path / 'data'} web --no-engine" in (
        exec_line
    )
    assert 'Environment="FERRYMAN_NODE_NAME=worker-1"\n' in text
    assert 'Environment="FERRYMAN_TELEGRAM__API_HASH=p\\"w 50%%\\nx"\n' in text  # systemd quoting
    assert "FERRYMAN_CONFIG" not in text
    assert stat.S_IMODE(unit.stat().st_mode) == 0o600  # a secret may be among them, and
    # the unit written before them (0644) was narrowed before they went in

    wrong = CliRunner().invoke(app, [*args, "--command", "run", "--no-engine"], env=env)
    assert wrong.exit_code == 2 and "--command web only" in wrong.stdout
    env["FERRYMAN_NODE_NAME"] = "not a name"
    bad = CliRunner().invoke(app, [*args, "--print"], env=env)
    assert bad.exit_code == 4 and "node_name" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("termux", [False, True])
def test_a_web_front_end_and_a_worker_are_two_services_by_name(
    tmp_path: Path, termux: bool
) -> None:
    """Installing one over the other said so; with --name both are kept."""
    folder = (
        tmp_path / "home" / ".termux" / "boot"
        if termux
        else tmp_path / "home" / ".config" / "systemd" / "user"
    )
    suffix = "" if termux else ".service"
    code, said = _cli(tmp_path, "service", "install", "--command", "run", termux=termux)
    assert code == 0 and "replaced" not in said
    code, said = _cli(
        tmp_path, "service", "install", "--command", "web", "--no-engine", termux=termux
    )
    assert code == 0 and "replaced a service that started `run`" in said and "--name" in said
    code, said = _cli(tmp_path, "service", "install", "--command", "run", termux=termux)
    assert code == 0 and "replaced a service that started `web --no-engine`" in said
    code, said = _cli(tmp_path, "service", "install", "--command", "run", termux=termux)
    assert code == 0 and "replaced" not in said  # the same again: nothing to warn of
    code, said = _cli(
        tmp_path,
        "service",
        "install",
        "--command",
        "web",
        "--no-engine",
        "--name",
        "ferryman-web",
        termux=termux,
    )
    assert code == 0 and "replaced" not in said
    if not termux:
        assert "enable --now ferryman-web" in said
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"ferryman{suffix}", f"ferryman-web{suffix}"]
    )
    assert "web --no-engine" in (folder / f"ferryman-web{suffix}").read_text()
    assert " run" in (folder / f"ferryman{suffix}").read_text()
    code, said = _cli(tmp_path, "service", "uninstall", "--name", "ferryman-web", termux=termux)
    assert code == 0 and [p.name for p in folder.iterdir()] == [f"ferryman{suffix}"]
    code, said = _cli(tmp_path, "service", "install", "--name", "../evil", termux=termux)
    assert code == 2 and "config.invalid" in said and "--name" in said
    assert not (tmp_path / "home" / ".config" / "systemd" / "evil.service").exists()


@pytest.mark.parametrize(
    ("env", "started"),
    [
        ({}, " run\n"),  # nothing set up: the engine alone, not a chat that cannot start
        ({"FERRYMAN_WEB__TOKENS": "sha256:" + "0" * 64}, " web\n"),
        (TELEGRAM, " telegram serve\n"),
    ],
)
def test_install_starts_what_is_set_up(tmp_path: Path, env: dict[str, str], started: str) -> None:
    """Not told a --command, it installs the chat only once Telegram is set up, the page
    once it is, and else the engine; and says which and why."""
    _logged_in(tmp_path)
    done = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "data"), "service", "install"],
        env={"HOME": str(tmp_path / "home"), "FERRYMAN_CONFIG": ""} | env,
    )
    assert done.exit_code == 0, done.output
    assert done.stderr.startswith("installing `"), done.stderr  # why, apart from the file
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "ferryman.service"
    start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    assert (start + "\n").endswith(started), start


def test_uninstall_hints_systemctl_only_for_a_unit_systemd_still_holds(tmp_path: Path) -> None:
    """A unit never enabled (no systemd user manager here: nothing holds it) needs no
    `systemctl --user disable --now`; it was hinted for a unit already gone."""
    assert _cli(tmp_path, "service", "install", "--command", "run", termux=False)[0] == 0
    code, said = _cli(tmp_path, "service", "uninstall", termux=False)
    assert code == 0 and "removed" in said
    assert "systemctl --user" not in said, said
