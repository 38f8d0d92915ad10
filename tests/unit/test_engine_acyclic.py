"""No import cycle inside the engine, excused or not: a cycle (context → deliver_ahead →
step → plumbing/destination → context was one, kept green by an ``ignore_imports``
entry) makes a module's meaning depend on import order and hides who owns what."""

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


def test_the_engine_has_no_import_cycle() -> None:
    graph = grimp.build_graph("ferryman", cache_dir=None)
    assert _cycles(graph, "ferryman.engine") == []
