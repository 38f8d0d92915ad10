"""No import cycle inside the engine or the sources, excused or not: a cycle (context →
deliver_ahead → step → plumbing/destination → context was one, kept green by an
``ignore_imports`` entry; sources/base ↔ batch, file ↔ local ↔ sound others) makes a
module's meaning depend on import order and hides who owns what. Elsewhere the package's
cycles are the known ones below, and no new one comes."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph, prefix: str) -> list[list[str]]:
    """The strongly connected groups of more than one module among those under
    ``prefix`` (Tarjan's algorithm, iterative), each sorted."""
    modules = sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))
    inside = set(modules)
    edges = {
        m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in inside)
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(edges[node]):
                work.append((node, child + 1))
                nxt = edges[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_the_finder_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph, "p") == [["p.a", "p.b", "p.c"]]


# Left (issue 57): each a package of its own, cut by its own branch or a later one.
KNOWN = (
    {"ferryman.telegram.accounts", "ferryman.telegram.hub"},
    {
        "ferryman.archive.box.child",
        "ferryman.archive.box.reader",
        "ferryman.archive.box.wire",
        "ferryman.archive.libarchive.backend",
        "ferryman.archive.libarchive.entry",
        "ferryman.archive.reader",
    },
    {"ferryman.web.accounts.link_grants", "ferryman.web.accounts.who", "ferryman.web.core"},
)


def test_the_engine_and_the_sources_have_no_import_cycle() -> None:
    graph = grimp.build_graph("ferryman", cache_dir=None)
    assert _cycles(graph, "ferryman.engine") == []
    assert _cycles(graph, "ferryman.sources") == []
    new = [c for c in _cycles(graph, "ferryman") if not any(set(c) <= k for k in KNOWN)]
    assert new == [], "a new import cycle"
