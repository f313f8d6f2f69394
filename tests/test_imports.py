"""The module graph a newcomer reads: no import cycles (imports inside functions count: they only
hide a cycle), and no module importing another's private (``_name``) names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"vidcolor": ROOT / "vidcolor", "vidcolor.engines": ROOT / "engines", "vidcolor.train": ROOT / "train"}


def modules() -> dict[str, Path]:
    """Every module of the three packages by its import name (engines and train install under vidcolor)."""
    found = {}
    for package, folder in PACKAGES.items():
        for f in sorted(folder.rglob("*.py")):
            parts = f.relative_to(folder).with_suffix("").parts
            if parts[0] in ("recipes", "__pycache__"):  # scripts beside the package, not its modules
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join((package, *parts))] = f
    return found


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """(module -> the modules it imports, anywhere in it; the private names imported across modules)."""
    mods = modules()

    def owner(name: str) -> str | None:  # the module that defines ``name`` (a module, or a name in one)
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for m, f in mods.items():
        package = m if f.stem == "__init__" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                targets = [(owner(a.name), None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level-1
                    up = package
                    for _ in range(node.level - 1):
                        up = up.rpartition(".")[0]
                    base = f"{up}.{base}" if base else up
                targets = [
                    (owner(f"{base}.{a.name}"), None) if f"{base}.{a.name}" in mods else (owner(base), a.name)
                    for a in node.names
                ]
            else:
                continue
            for target, name in targets:
                if target is None or target == m:
                    continue
                edges[m].add(target)
                if name and name.startswith("_") and not name.startswith("__"):
                    private.append(f"{m} imports {target}.{name}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_a_cycle_hidden_in_a_function():
    """The check itself: a cycle through an import inside a function is found."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    edges, _ = graph()
    assert "vidcolor.source" in edges["vidcolor.shots"]  # a top-level import
    assert "vidcolor.segments" in edges["vidcolor.batch"]  # an import inside a function


def test_no_import_cycles():
    edges, _ = graph()
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_names():
    _, private = graph()
    assert private == []


def test_every_package_is_installed():
    """pyproject lists its packages by name: a new subpackage left out of it is missing from a wheel
    (an editable install still finds it, so the suite alone would not notice)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert found <= listed, sorted(found - listed)
