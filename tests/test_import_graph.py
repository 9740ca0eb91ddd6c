"""A one-way house: no import circle and no import from a lower floor to a higher one.

Every `import` that runs counts (not those under `if TYPE_CHECKING:`), at module level or
inside a function, and so do modules loaded by name (`importlib.import_module(
f"toucan.connectors.{…}")` imports every module of that package). The floors, lowest first,
are the ones docs/architecture.md describes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import ROOT

SRC = ROOT / "src"

# Lowest first. A module may import its own floor and the floors below it.
FLOORS = [
    "base",
    "db",
    "auth",
    "connectors",
    "apps",
    "data",
    "sandbox",
    "jobs",
    "etl",
    "backup",
    "screenshots",
    "api",
    "top",
]
# Modules of the top package, by floor (the others are `base`: leaves such as errors, settings).
TOP_PACKAGE = {
    "app": "top",
    "cli": "top",
    "serve": "top",
    "worker": "top",
    "bootstrap": "top",
    "demo_seed": "top",
    "reference_docs": "top",
    "settings_doc": "top",
    "frontend_files": "top",
    "health": "jobs",
}
# Packages whose floor is not their name.
PACKAGES = {"migrations": "db", "demo": "top", "doctor": "top"}


def module_files() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def floor(module: str, modules: dict[str, Path]) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    if len(parts) == 2 and modules[module].name != "__init__.py":
        return TOP_PACKAGE.get(parts[1], "base")
    return PACKAGES.get(parts[1], parts[1])


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The project modules `module` imports, however it does."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    # `if TYPE_CHECKING:` imports never run: they make no circle.
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("toucan"):
                    found = _resolve(alias.name, modules)
                    if found:
                        yield found
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("toucan"):
                continue
            for alias in node.names:
                found = _resolve(f"{base}.{alias.name}", modules)
                if found:
                    yield found
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            yield from _dynamic(node.args[0], modules)


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__")
    )


def _dynamic(arg: ast.expr, modules: dict[str, Path]) -> Iterator[str]:
    """A module loaded by name: the one named, or every module of the package an f-string starts with."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        found = _resolve(arg.value, modules)
        if found:
            yield found
    elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        prefix = str(arg.values[0].value)
        yield from (m for m in modules if m.startswith(prefix))


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {m: set(imports(m, path, modules)) - {m} for m, path in modules.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
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


def test_no_import_circle() -> None:
    edges = graph()
    found = circles(edges)
    described = [" ⇄ ".join(c) + "\n  " + "\n  ".join(f"{a} → {sorted(edges[a] & set(c))}" for a in c) for c in found]
    assert not found, "import circles:\n" + "\n".join(described)


def test_no_import_climbs_a_floor() -> None:
    modules = module_files()
    climbing = []
    for module, targets in graph().items():
        mine = floor(module, modules)
        for target in sorted(targets):
            theirs = floor(target, modules)
            if target != "toucan" and FLOORS.index(theirs) > FLOORS.index(mine):
                climbing.append(f"{module} [{mine}] → {target} [{theirs}]")
    assert not climbing, "imports from a lower floor to a higher one:\n" + "\n".join(climbing)


def test_every_package_has_a_floor() -> None:
    modules = module_files()
    assert {floor(m, modules) for m in modules} <= set(FLOORS)


def test_the_checks_find_what_they_look_for() -> None:
    """The detector itself: a circle through a function-level import and a by-name load."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]
    modules = module_files()
    registry = SRC / "toucan" / "connectors" / "registry.py"
    loaded = set(imports("toucan.connectors.registry", registry, modules))
    assert "toucan.connectors.sql" in loaded, "by-name loads are not seen"
