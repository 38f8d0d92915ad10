"""The sink seam is declared once, and the engine keeps to it.

Scans of ``src/``: the engine never asks a sink (or a kind) with ``getattr`` whether it
has a behaviour, and no code outside the link sink names ``link:``; a sink and a kind
written from the base classes alone get every optional behaviour's default; a kind of
a test's own that keeps results gets what ``link:`` gets (download links in the report,
its folders forgotten with the job); and a job's destination is resolved per claim, not
per entry read.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import control, intake, report
from ferryman.engine.runner import Engine
from ferryman.media.policy import LIBRARY, Policy
from ferryman.model import Album, AlbumGroup, AlbumState, Job, JobState
from ferryman.resources import Shared
from ferryman.samples import make_photo
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv, SinkKind, SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support.memsink import MemKind

SRC = Path(__file__).resolve().parents[2] / "src" / "ferryman"
# Where ``link:`` may be named: its sink and kind, and the error registry's next steps
# (plain words for people: "add the input again with `--to link:`"), and the root's
# --help lines (cli.lazy: the first line of each command's docstring, `links`' too).
LINK_HOME = {"sinks/link.py"}
LINK_WORDS = {"error_codes.py", "frontdoors/cli/lazy.py"}
# A destination named in code: a string that is ``link:`` or starts so, or names it as a
# person types it (``--to link:``, in backticks or quotes). Prose ("a link: with…") is not.
NAMES_LINK = re.compile(r"(?:^|[`'\"(]|--to )link:")
# An expression that is a sink, a kind or a source (``sink``, ``ctx.sinks.kind(job.dest)``).
SINKISH = re.compile(r"\b(sinks?|kind|sources?)\b|_sink\b|_source\b")


def _modules(under: Path, having: tuple[str, ...]) -> Iterator[tuple[str, ast.Module]]:
    """The modules under ``under`` whose text holds one of ``having``, parsed."""
    for path in sorted(under.rglob("*.py")):
        text = path.read_text()
        if any(word in text for word in having):
            yield path.relative_to(SRC).as_posix(), ast.parse(text, str(path))


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the constants that are docstrings (documentation, not code)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _link_named(tree: ast.Module) -> list[int]:
    docs = _docstrings(tree)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and NAMES_LINK.search(node.value)
    ]


def _getattr_on_sinks(tree: ast.Module) -> list[str]:
    return [
        f"{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and node.args
        and SINKISH.search(ast.unparse(node.args[0]))
    ]


def test_the_engine_asks_no_sink_kind_or_source_with_getattr() -> None:
    found = {
        name: calls
        for name, tree in _modules(SRC / "engine", ("getattr(", "hasattr("))
        if (calls := _getattr_on_sinks(tree))
    }
    # nor do the registries: a kind or a source declares what it has
    bases = [SRC / "sinks" / "base.py", SRC / "sources" / "base.py"]
    assert found == {} and [_getattr_on_sinks(ast.parse(p.read_text())) for p in bases] == [[], []]


def test_the_scans_find_what_they_look_for() -> None:
    """The two scans are not blind: the old code's forms are caught."""
    old = ast.parse(
        'warm = getattr(sink, "warm", None)\n'
        'if not getattr(ctx.sinks.kind(job.dest), "builds_folders", False): pass\n'
        'said = getattr(source, "shown_as", None)\n'
        'if job.dest.startswith("link:"): pass\n'
        'raise E(f"only jobs added with --to link: have {x}")\n'
    )
    assert len(_getattr_on_sinks(old)) == 3
    assert _link_named(old) == [4, 5]
    assert _getattr_on_sinks(ast.parse('close = getattr(entries, "close", None)\n')) == []
    prose = ast.parse('x = "No extractor reads this kind of link: send a direct link"\n')
    assert _link_named(prose) == []


def test_no_code_outside_the_link_sink_names_link() -> None:
    found = {
        name: lines
        for name, tree in _modules(SRC, ("link:",))
        if name not in LINK_HOME and name not in LINK_WORDS and (lines := _link_named(tree))
    }
    assert found == {}
    # the allowed words are still there (else the allowance goes)
    for name in LINK_WORDS:
        assert _link_named(ast.parse((SRC / name).read_text()))


# ------------------------------------------------------------------ the declared defaults


class BareSink(Sink):
    """A sink written from the base class alone: ``deliver``, nothing else."""

    async def deliver(self, delivery: Delivery) -> Delivered:
        return Delivered(f"bare#{delivery.key}")


class BareKind(SinkKind):
    """A kind written from the base class alone."""

    scheme = "bare"
    description = "bare:"

    def parse(self, target: str) -> str:
        return target

    def policy(self, settings: Settings) -> Policy:
        return LIBRARY

    def open(self, target: str, env: SinkEnv) -> Sink:
        return BareSink()


JOB = Job(1, "file:///x", "j", "bare:", JobState.DONE, 0, None, None, None, 0, True, 0.0, None)
ALBUM = Album(1, 1, 1, AlbumGroup.VISUAL, AlbumState.SEALED, 0)


def test_a_sink_and_kind_from_the_base_classes_alone_get_every_default(
    settings: Settings,
) -> None:
    sink, kind = BareSink(), BareKind()
    delivery = Delivery(JOB, ALBUM, "caption")

    async def defaults() -> tuple[object, ...]:
        return (
            await sink.prepare(delivery),
            await sink.nothing_delivered(delivery),
            await sink.make_captions_final(JOB, lambda seq, items, said: "x"),
            await kind.preflight(settings, Shared(settings, None)),
            await sink.deliver(delivery),
        )

    assert sink.warm() is None and sink.early_upload_starter() is None and sink.prepares is False
    assert sink.sweep_half_built(JOB, [1]) == 0
    assert asyncio.run(defaults()) == ({}, False, 0, None, Delivered("bare#job-1/album-1"))
    assert (kind.album_max, kind.client_target) == (None, None)
    assert (kind.hashes_as_it_reads, kind.builds_folders, kind.keeps_results) == (False,) * 3
    assert kind.shorthand("@x") is None and kind.check_ready(settings, "") is None
    assert kind.forget(settings, JOB) == []
    assert kind.album_size(settings) == settings.album_size
    # What a sink or a kind must write, and nothing more; every other member documented.
    assert Sink.__abstractmethods__ == {"deliver"}
    assert SinkKind.__abstractmethods__ == {"parse", "policy", "open"}
    for cls in (Sink, SinkKind):
        for name, member in vars(cls).items():
            if callable(member) and not name.startswith("_"):
                assert member.__doc__, f"{cls.__name__}.{name} says what it is for"


# ------------------------------------------------------------------ through the engine


@dataclass(slots=True)
class ShelfKind(MemKind):
    """``mem:NAME`` whose albums are also kept as files under ``shelf``, served as
    download links like ``link:``'s: what is special about ``link:`` is its kind's."""

    shelf: Path = Path()
    keeps_results = True

    def forget(self, settings: Settings, job: Job) -> list[Path]:
        return [self.shelf / f"job-{job.id}"]


def _photos(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for seed in range(count):
        make_photo(root / f"p{seed}.jpg", seed, size=(32, 24))
    return root


def _settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 50,
        },
    )


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(_settings(tmp_path).database)
    try:
        yield store
    finally:
        await store.close()


async def test_a_kind_that_keeps_results_gets_links_and_is_forgotten_with_its_job(
    tmp_path: Path, sqlite_store: Store
) -> None:
    """Download links and removal follow ``keeps_results`` and ``forget`` of any kind,
    not a scheme's name: the report says the job has links, the run's summary lists it,
    and removing the job removes the folder its kind names."""
    store, settings = sqlite_store, _settings(tmp_path)
    kind = ShelfKind(album_max=None, shelf=tmp_path / "shelf")
    sinks = default_sinks().with_kind(kind)
    job = await intake.add_source(store, _photos(tmp_path / "in", 2), dest="mem:box", sinks=sinks)
    await asyncio.wait_for(Engine(store, settings, sinks=sinks).run(until_idle=True), 60)
    (kind.shelf / f"job-{job.id}").mkdir(parents=True)

    assert (await report.report(store, job.id, sinks=sinks))["download_links"] is True
    assert (await report.report(store, job.id))["download_links"] is False  # mem: unknown
    summary = await report.run_summary(store, 0.0, sinks=sinks)
    assert summary["links"] == [{"id": job.id, "name": job.name}]
    removed = await control.remove_job(store, settings, job.id, sinks=sinks)
    assert kind.shelf / f"job-{job.id}" in removed.folders
    assert not (kind.shelf / f"job-{job.id}").exists()


async def _lookups(
    tmp_path: Path, store: Store, photos: int, monkeypatch: pytest.MonkeyPatch
) -> int:
    """How often the destination kinds were looked up while one job of ``photos``
    photos (one album) went through the engine, besides the housekeeper's album size
    (``Context.album_size``: once per job and engine at most, checked here, and only
    when its pass finds the job active, which depends on the pace of the read)."""
    looked: list[str] = []
    housekeeper: list[str] = []
    real: Callable[[SinkRegistry, str], SinkKind] = SinkRegistry.kind

    def counted(self: SinkRegistry, dest: str) -> SinkKind:
        caller = sys._getframe(1).f_code
        per_job = caller.co_name == "album_size" and caller.co_filename.endswith("context.py")
        (housekeeper if per_job else looked).append(dest)
        return real(self, dest)

    kind = MemKind(album_max=None)
    sinks = default_sinks().with_kind(kind)
    job = await intake.add_source(
        store, _photos(tmp_path / f"in{photos}", photos), dest="mem:box", sinks=sinks
    )
    with monkeypatch.context() as patch:
        patch.setattr(SinkRegistry, "kind", counted)
        engine = Engine(store, _settings(tmp_path), sinks=sinks)
        await asyncio.wait_for(engine.run(until_idle=True), 60)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert len(kind.albums) == 1
    assert len(housekeeper) <= 1, housekeeper  # cached for the job: never per entry
    kind.albums.clear()
    return len(looked)


@pytest.mark.slow  # two engine runs to idle: ~5 s here
async def test_a_jobs_destination_is_resolved_per_claim_not_per_entry(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading 12 entries looks the destination up as often as reading 3: it is resolved
    when the read is claimed (and each album's delivery), and handed on from there."""
    few = await _lookups(tmp_path, sqlite_store, 3, monkeypatch)
    many = await _lookups(tmp_path / "b", sqlite_store, 12, monkeypatch)
    assert many == few, (few, many)
