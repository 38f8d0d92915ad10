"""A user's install (issue 46, item 9; issue 56, item 6): the project builds into a wheel
(``pip wheel .``, as ``pipx install .`` does) that pip installs into a fresh virtualenv
with the dependencies it declares and nothing else, and ferryman runs there.

The wheel is built without build isolation, with the development virtualenv's
setuptools (that build failed on the license field with an older setuptools). Its
dependencies come from pip's index as this machine's pip is set up (its cache), as
``make`` installs them; nothing of the development virtualenv is on the fresh one's path:
the test once borrowed its site-packages, and a module only the development tools
brought (psutil) passed unseen while every user's install looped on its ImportError."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVERY_MODULE = """
import importlib, pkgutil, ferryman
for found in pkgutil.walk_packages(ferryman.__path__, "ferryman."):
    if not found.name.endswith("__main__"):
        importlib.import_module(found.name)
print(ferryman.__file__)
"""


@pytest.mark.slow
def test_the_wheel_installs_with_its_declared_dependencies_and_runs(tmp_path: Path) -> None:
    from ferryman import __version__

    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("ferryman-*.whl")
    with zipfile.ZipFile(wheel) as built_wheel:  # `ferryman docs`: every topic inside
        carried = {n for n in built_wheel.namelist() if n.startswith("ferryman/docs/")}
    assert carried == {f"ferryman/docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    # This pip installs into the fresh interpreter (--python): no pip of its own to set
    # up. No bytecode: the imports below compile what they use.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh / "bin" / "python"), "install",
         "--quiet", "--no-compile", str(wheel)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FERRYMAN_", "VIRTUAL"))
    }
    env |= {"PATH": f"{fresh / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}

    def fresh_run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout
        )

    shown = fresh_run(fresh / "bin" / "ferryman", "docs", "web")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith((ROOT / "docs" / "web.md").read_text().splitlines()[0])
    ran = fresh_run(fresh / "bin" / "ferryman", "--version")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"ferryman {__version__}"
    # Every module imports from the wheel, with only what it declared beside it.
    imported = fresh_run(fresh / "bin" / "python", "-c", EVERY_MODULE)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().startswith(str(fresh))
    borrowed = fresh_run(
        fresh / "bin" / "python", "-c", "import importlib.util as u; print(u.find_spec('pytest'))"
    )
    assert borrowed.stdout.strip() == "None"  # no development tool reached it
    # The path that imported psutil, a development tool, at run time: a link whose host
    # does not resolve ends with its code, and no traceback (it looped, one every 30 s).
    link = fresh_run(
        fresh / "bin" / "ferryman", "--data-dir", tmp_path / "data", "add", "--run",
        "https://nonexistent.invalid/x.zip", timeout=120,
    )  # fmt: skip
    assert link.returncode == 1, link.stdout + link.stderr
    assert "source.host_unknown" in link.stdout
    assert "Traceback" not in link.stdout + link.stderr
