"""The import contract of the project's packages, checked on the import graph (grimp):

1. layers: infra < sim_envs < data_collection < agents < evaluation. A module may import from its own
   package and from the packages below it, never from one above it;
2. no cycles: no two modules import each other, directly or through others.

Every import statement counts, those inside functions too (grimp reads them all). The suite runs this
(tests/test_layers.py), also on a copy of the tree with a deliberate violation, which must fail.

    python scripts/check_layers.py            # exit 0, or 1 with one line per violation
"""
from __future__ import annotations

import sys

LAYERS = ("evaluation", "agents", "data_collection", "sim_envs", "infra")  # top to bottom


def layer_violations(graph) -> list[str]:
    out = []
    for dep in graph.find_illegal_dependencies_for_layers(layers=LAYERS):
        for route in dep.routes:
            for head in sorted(route.heads):
                for tail in sorted(route.tails):
                    chain = " -> ".join([head, *route.middle, tail])
                    out.append(f"layers: {dep.importer} imports {dep.imported} (a higher layer): {chain}")
    return sorted(set(out))


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module of the direct-import graph (Tarjan)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in sorted(graph.modules)}
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # iterative deepening is not needed: the graph has about a hundred modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return sorted(found)


def problems() -> list[str]:
    """Every violation of the contract in the packages importable from sys.path."""
    import grimp

    graph = grimp.build_graph(*LAYERS, cache_dir=None)
    out = layer_violations(graph)
    for comp in cycles(graph):
        pairs = [f"{a} <-> {b}" for a in comp for b in comp
                 if a < b and graph.direct_import_exists(importer=a, imported=b)
                 and graph.direct_import_exists(importer=b, imported=a)]
        out.append(f"cycle: {', '.join(comp)}" + (f" (mutual: {'; '.join(pairs)})" if pairs else ""))
    return out


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    print(f"{len(found)} violations" if found else "import contract holds: layers "
          + " < ".join(reversed(LAYERS)) + ", no cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
