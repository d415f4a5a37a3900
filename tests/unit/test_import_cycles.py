"""No cvlab module imports itself back through others, counting imports made inside functions too.

A lazy import only hides a cycle: the two modules still cannot be understood, tested or moved apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_graph(root: Path) -> dict[str, set[str]]:
    """cvlab module -> the cvlab modules it imports anywhere in its file."""
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (root / "cvlab").rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cvlab"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names if alias.name.startswith("cvlab")}
        graph[module] = {d for d in deps if d in modules and d != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "cvlab"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cvlab.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from cvlab import c\n")
    (package / "c.py").write_text("import cvlab.a\n")
    (package / "d.py").write_text("from cvlab.a import x\n")
    assert cycles(import_graph(tmp_path)) == [["cvlab.a", "cvlab.b", "cvlab.c"]]


def test_cvlab_has_no_import_cycle():
    graph = import_graph(ROOT)
    assert len(graph) > 100  # the real package was read
    assert cycles(graph) == []
