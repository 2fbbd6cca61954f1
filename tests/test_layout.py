"""The house rules both packages keep: no import cycle, no module over ~400 lines.

Read from the source with `ast` (nothing is imported), so the check costs milliseconds.
Only imports that run when a module is imported count: imports inside functions are
lazy on purpose (heavy libraries, stage classes) and those under `if TYPE_CHECKING:`
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("longvid_pipeline", "longvid")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run on import: module level, and inside if/try blocks there."""
    nodes: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                nodes += _import_time_nodes(node.body) + _import_time_nodes(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                nodes += _import_time_nodes(block)
        else:
            nodes.append(node)
    return nodes


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports when it is imported (packages on the way included)."""
    targets: set[str] = set()
    body_imports: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _import_time_nodes(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
            if base != name and any(f"{base}.{a.name}" not in known for a in node.names):
                body_imports.add(base)  # names its body defines: needs it run, even an ancestor
    # Importing a.b.c also runs the packages a and a.b, unless they are the importer's own
    # ancestors: those are already (being) imported, which Python allows.
    ancestors = {".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 2)}
    found = set()
    for target in targets:
        parts = target.split(".")
        found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return ((found & known) - ancestors) | (body_imports & known)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the modules along it, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert graph["longvid_pipeline.recipe"] >= {"longvid_pipeline.registry"}  # the walk works
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_over_the_line_budget() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
