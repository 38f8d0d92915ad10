"""The JavaScript runtime yt-dlp solves YouTube's challenges with, found and named to it.

Since 2025.11 yt-dlp solves YouTube's signature and "n" challenges by running the
yt-dlp-ejs solver scripts (a Python package: ``yt-dlp[default]`` brings it) in an
outside JavaScript runtime; without one most formats are missing. yt-dlp looks for
``deno`` on PATH by default and misses one installed into ferryman's own environment
from the ``deno`` wheel (yt-dlp#15038), so ferryman finds the runtime itself and passes
it explicitly (yt-dlp's ``js_runtimes``): ``links.js_runtime = "auto"`` takes deno from
ferryman's environment, then deno, node, bun or QuickJS on PATH (where no wheel exists:
Termux, musl), each only when yt-dlp's own check of it (its version) says it is
supported; a path names one; ``off`` passes none.

The runtime fetches nothing: no remote components (``remote_components`` empty, so
yt-dlp never downloads solver scripts from GitHub or npm), the solver comes from the
yt-dlp-ejs package (hash-checked by yt-dlp), and deno runs with ``--no-remote``,
``--no-npm`` and no network permission; its update check is off (``NO_UPDATE_CHECK``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMES = ("deno", "node", "bun", "quickjs")  # yt-dlp's keys, in its own preference order
EXECUTABLES = {"deno": "deno", "node": "node", "bun": "bun", "quickjs": "qjs"}
# Deno's own environment switches: no look for a newer deno while it runs a solver.
NO_UPDATE_CHECK = {"DENO_NO_UPDATE_CHECK": "1", "DENO_NO_PROMPT": "1"}
INSTALL_HINT = "pip install 'yt-dlp[default]' deno"


@dataclass(frozen=True, slots=True)
class Runtime:
    """One runtime as found: yt-dlp's name for it, its executable, where it was found
    (``ferryman's environment``, ``PATH``, ``links.js_runtime``), and what yt-dlp's
    check of it said (None: not run, or it did not answer)."""

    name: str
    path: str
    where: str
    version: str | None = None
    supported: bool = False


def candidates(setting: str = "auto") -> list[Runtime]:
    """The runtimes ``setting`` allows, unchecked, first choice first."""
    if setting == "off":
        return []
    if setting != "auto":
        return [Runtime(name_of(setting), setting, "links.js_runtime")]
    found: list[Runtime] = []
    own = own_deno()
    if own is not None:
        found.append(Runtime("deno", own, "ferryman's environment"))
    for name in NAMES:
        path = shutil.which(EXECUTABLES[name])
        if path is not None and all(Path(path).resolve() != Path(r.path).resolve() for r in found):
            found.append(Runtime(name, path, "PATH"))
    return found


def name_of(path: str) -> str:
    """yt-dlp's name for the runtime at ``path``, by its file name (``qjs`` is QuickJS)."""
    stem = Path(path).name.lower().removesuffix(".exe")
    for name, executable in EXECUTABLES.items():
        if stem.startswith((name, executable)):
            return name
    raise ValueError(f"{path}: not deno, node, bun or qjs (QuickJS)")


def own_deno() -> str | None:
    """deno from the ``deno`` wheel in the environment ferryman runs from, if any."""
    try:
        import deno  # lazy: not installed where PyPI has no wheel (Termux, musl)

        return str(deno.find_deno_bin())
    except (ImportError, OSError):
        pass
    exe = sysconfig.get_config_var("EXE") or ""
    beside = Path(sysconfig.get_path("scripts")) / f"deno{exe}"
    return str(beside) if os.access(beside, os.X_OK) else None


@contextlib.contextmanager
def quiet_runtime() -> Iterator[None]:
    """While the block runs, a runtime yt-dlp starts inherits ``NO_UPDATE_CHECK`` (deno
    then asks nobody whether it is new). It changes the process's environment: only for
    a child process of ferryman's own (the link's)."""
    before = {key: os.environ.get(key) for key in NO_UPDATE_CHECK}
    os.environ.update(NO_UPDATE_CHECK)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def checked(runtime: Runtime) -> Runtime:
    """``runtime`` with yt-dlp's own check of it: its version and whether yt-dlp
    supports that version (runs it once with ``--version``)."""
    import yt_dlp  # noqa: F401  lazy: its __init__ registers the runtimes it knows
    from yt_dlp.globals import supported_js_runtimes  # lazy: start-up

    cls = supported_js_runtimes.value.get(runtime.name)
    info = cls(path=runtime.path).info if cls is not None else None
    if info is None:
        return runtime
    return Runtime(runtime.name, runtime.path, runtime.where, info.version, bool(info.supported))


def find_runtime(setting: str = "auto") -> Runtime | None:
    """The first runtime ``setting`` allows that yt-dlp supports; None if none."""
    for runtime in candidates(setting):
        found = checked(runtime)
        if found.supported:
            return found
    return None


def ytdlp_params(runtime: Runtime | None) -> dict[str, Any]:
    """yt-dlp's options for ``runtime``: that one alone, by its path, and no remote
    components (an empty ``js_runtimes`` when there is none: yt-dlp then says the
    challenge was not solved, rather than looking on PATH by itself)."""
    return {
        "js_runtimes": {} if runtime is None else {runtime.name: {"path": runtime.path}},
        "remote_components": [],
    }


@dataclass(frozen=True, slots=True)
class Solver:
    """The yt-dlp-ejs solver scripts: the installed version (None: not installed) and
    the one this yt-dlp takes (major and minor must match, else yt-dlp ignores it)."""

    version: str | None
    wanted: str

    @property
    def fits(self) -> bool:
        return self.version is not None and _minor(self.version) == _minor(self.wanted)


def solver() -> Solver:
    from yt_dlp.extractor.youtube.jsc._builtin.vendor import VERSION  # lazy: start-up

    try:
        from yt_dlp_ejs import version  # lazy: optional where yt-dlp came alone
    except ImportError:
        return Solver(None, str(VERSION))
    return Solver(str(version), str(VERSION))


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def missing(runtime: Runtime | None, found: Solver, setting: str = "auto") -> list[str]:
    """What YouTube's challenges still need here, each with its next step."""
    python = sys.executable
    lacks = []
    if found.version is None:
        lacks.append(f"the solver scripts (yt-dlp-ejs): {python} -m {INSTALL_HINT}")
    elif not found.fits:
        lacks.append(
            f"yt-dlp-ejs {found.version} does not fit this yt-dlp (it takes {found.wanted}):"
            f" {python} -m pip install -U 'yt-dlp[default]'"
        )
    if runtime is None and setting == "off":
        lacks.append("a JavaScript runtime: links.js_runtime is off")
    elif runtime is None:
        lacks.append(
            f"a JavaScript runtime: {python} -m {INSTALL_HINT} (where PyPI has a deno wheel),"
            " else deno, node 22+, bun or QuickJS on PATH (Termux: pkg install nodejs)"
        )
    return lacks


def scripts_loaded(runtime: Runtime) -> str:
    """Whether yt-dlp, given ``runtime``, would solve with it: its provider for that
    runtime available, and its two scripts (lib, core) loaded, as yt-dlp loads them.
    Returns where they came from (``python package``: yt-dlp-ejs); ``ValueError`` says
    why not. yt-dlp's own provider is asked (its private API: a change there is said
    as the reason, not raised)."""
    try:
        from yt_dlp import YoutubeDL  # lazy: start-up
        from yt_dlp.extractor.youtube.jsc._builtin import bun, deno, node, quickjs  # lazy

        kinds = (deno.DenoJCP, node.NodeJCP, bun.BunJCP, quickjs.QuickJSJCP)
        provider_of = {kind.JS_RUNTIME_NAME: kind for kind in kinds}
        params = {**ytdlp_params(runtime), "quiet": True, "logger": _Silent()}
        with YoutubeDL(params) as ydl:
            provider = provider_of[runtime.name](ydl.get_info_extractor("Youtube"), _Silent(), None)
            if not provider.is_available():
                raise ValueError(f"yt-dlp does not take {runtime.name} at {runtime.path}")
            sources = {provider._lib_script.source.value, provider._core_script.source.value}
    except ValueError:
        raise
    except Exception as exc:  # yt-dlp's own, whichever: said, not raised
        raise ValueError(f"yt-dlp could not load the solver: {exc}") from exc
    return ", ".join(sorted(sources))


class _Silent:
    """A logger for yt-dlp and its providers that keeps their words out of a terminal."""

    def trace(self, message: str) -> None:
        pass

    def debug(self, message: str, *, once: bool = False) -> None:
        pass

    def info(self, message: str, *, once: bool = False) -> None:
        pass

    def warning(self, message: str, *, once: bool = False) -> None:
        pass

    def error(self, message: str, *args: Any) -> None:
        pass


def report(setting: str = "auto") -> dict[str, Any]:
    """What ``ferryman doctor`` says of YouTube's challenges here: the runtime yt-dlp is
    given (else the best found, unsupported), the solver's version, where yt-dlp loads
    its scripts from, and what is missing, each with its next step."""
    found = [checked(runtime) for runtime in candidates(setting)]
    runtime = next((r for r in found if r.supported), None)
    scripts = None
    lacks = missing(runtime, solver_found := solver(), setting)
    if runtime is not None and not lacks:
        try:
            scripts = scripts_loaded(runtime)
        except ValueError as exc:
            lacks.append(str(exc))
    unsupported = [
        {"name": r.name, "path": r.path, "version": r.version} for r in found if not r.supported
    ]
    return {
        "setting": setting,
        "runtime": None
        if runtime is None
        else {
            "name": runtime.name,
            "version": runtime.version,
            "path": runtime.path,
            "where": runtime.where,
        },
        "unsupported": unsupported,
        "solver": solver_found.version,
        "solver_wanted": solver_found.wanted,
        "scripts": scripts,
        "missing": lacks,
    }


def lines(found: dict[str, Any]) -> list[tuple[str, bool]]:
    """``report``'s words for a terminal, each with whether it is well."""
    runtime = found["runtime"]
    said = []
    if runtime is not None:
        said.append(
            (
                f"YouTube's challenges: {runtime['name']} {runtime['version']}"
                f" ({runtime['where']}: {runtime['path']}),"
                f" solver yt-dlp-ejs {found['solver'] or 'missing'}"
                + (f" (from the {found['scripts']})" if found["scripts"] else ""),
                not found["missing"],
            )
        )
    else:
        said.append(("YouTube's challenges: not solved here (most formats missing)", False))
    for other in found["unsupported"]:
        version = other["version"] or "did not answer"
        said.append((f"  {other['name']} {version} at {other['path']}: too old for yt-dlp", True))
    said.extend((f"  missing: {lack}", False) for lack in found["missing"])
    return said
