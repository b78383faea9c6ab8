"""servekit's modules import each other without a circle, and only the layers above the registry know the servers.

The layers themselves are import-linter's contract (pyproject.toml), which `make test` runs before pytest. A
contract of layers allows circles among siblings of one layer; this test closes that gap over the same graph,
grimp's, which counts every import statement (inside functions and under TYPE_CHECKING too).
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[2] / "servekit"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_when_every_import_statement_is_counted_then_no_module_imports_itself_through_others():
    graph = grimp.build_graph("servekit", include_external_packages=False, exclude_type_checking_imports=False)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def test_the_check_sees_an_import_circle_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_when_code_asks_which_server_then_only_the_server_packages_answer():
    """No `server == "..."` branch outside servekit/servers/: a new server is a package and an entry point."""
    pattern = re.compile(r"""\bserver\s*[!=]=\s*["']""")
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{i}" for p in PACKAGE.rglob("*.py")
                 if "servers" not in p.relative_to(PACKAGE).parts[:1]
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
