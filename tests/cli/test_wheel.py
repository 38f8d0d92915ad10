"""A user's install (issue 46, item 9): the project builds into a wheel (``pip wheel .``,
as ``pipx install .`` does) whose ``ferryman`` runs from a fresh virtualenv. Built
without build isolation, with the development virtualenv's setuptools: that build failed
on the license field with an older setuptools, and needs no network."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_virtualenv_and_runs(tmp_path: Path) -> None:
    from ferryman import __version__

    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("ferryman-*.whl")
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    installed = subprocess.run(
        [fresh / "bin" / "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Its dependencies from this virtualenv's site-packages (a plain path: the project's
    # own editable install there is not on it), the project itself from the wheel.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    ran = subprocess.run(
        [fresh / "bin" / "ferryman", "--version"], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"ferryman {__version__}"
    where = subprocess.run(
        [fresh / "bin" / "python", "-c", "import ferryman; print(ferryman.__file__)"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(fresh))
