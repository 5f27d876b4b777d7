"""The package's import graph: every module imports on its own, and no two modules import each other.

The graph counts every ``facedeblur`` import in a module, the lazy ones inside functions too: a cycle
through a lazy import still ties two modules into one (neither can be understood, tested or moved
without the other).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import facedeblur

PACKAGE = Path(facedeblur.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("facedeblur", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ``name`` (``facedeblur.a.b.func`` -> ``facedeblur.a.b``), None outside the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source (relative imports resolved)."""
    graph = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(_owner(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                deps.update(_owner(f"{base}.{alias.name}") for alias in node.names)
        graph[name] = {d for d in deps if d is not None and d != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted.

    Example:
        >>> find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
        [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
                    cycles.append(sorted(component))
    return cycles


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "facedeblur.face.detect" in graph["facedeblur.restore"]
    assert "facedeblur.data.mining.video" in graph["facedeblur.data.mining.batch"]
    assert find_cycles({**graph, "facedeblur.images": graph["facedeblur.images"] | {"facedeblur.restore"}})


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))  # __main__ runs the CLI
def test_every_module_imports(name):
    importlib.import_module(name)


# The flow of the package, lowest first: a module may import its own layer and the layers below it, never one
# above. face/ and video/ are tools (detection, alignment, tracking, codecs) that data mining uses as well as
# restoring, so they sit below data/; the batch core (input expansion, output paths, reports) is infrastructure,
# except its restore front (batch.restore_files), which drives the restorer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "config", "progress", "image_codecs", "image_metadata", "images", "batch", "weights", "configs"),
    ("degrade",),
    ("face", "video"),
    ("data",),
    ("models",),
    ("losses",),  # losses score what models make (an architecture knows nothing of its losses)
    ("train",),
    ("restore", "batch.restore_files"),
    ("eval",),
    ("deploy", "distributed"),
    ("commands", "cli", "serve", "__main__"),
)
# The package itself (``facedeblur/__init__``) holds ``__version__``, which any layer may read, and re-exports the
# public API from above: it is imported as the lowest layer and its own imports are not checked.
PACKAGE_NAME = "facedeblur"
# Known imports up the flow, each with its reason; a new one fails the test until it is moved or listed here.
UPWARD_ALLOWED = {
    ("facedeblur.train.validate", "facedeblur.eval.metrics"): "training validates with evaluation's own metrics",
}


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of a package module (the most specific entry wins).

    Example:
        >>> layer_of("facedeblur.batch.restore_files") > layer_of("facedeblur.batch.paths")
        True
    """
    if module == PACKAGE_NAME:
        return 0
    inner = module.removeprefix(PACKAGE_NAME + ".")
    best, best_len = None, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            if (inner == name or inner.startswith(name + ".")) and len(name) > best_len:
                best, best_len = index, len(name)
    if best is None:
        raise AssertionError(f"{module}: not placed in LAYERS (add its folder to the flow)")
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, imported) pairs where a module imports a layer above its own, beyond the allowed ones."""
    return sorted(
        (module, dep)
        for module, deps in graph.items()
        for dep in deps
        if module != PACKAGE_NAME and layer_of(dep) > layer_of(module) and (module, dep) not in UPWARD_ALLOWED
    )


def test_imports_follow_the_flow_down():
    graph = import_graph()
    assert not upward_imports(graph), "imports up the flow: " + "; ".join(
        f"{a} -> {b}" for a, b in upward_imports(graph)
    )
    for pair in UPWARD_ALLOWED:  # a listed exception that no longer exists is stale
        assert pair[1] in graph[pair[0]], f"{pair}: no longer imported; drop it from UPWARD_ALLOWED"
    # the check can fail: restoring code imported from the degradations would be flagged
    assert upward_imports({**graph, "facedeblur.degrade.ops": {"facedeblur.restore"}})
    assert upward_imports({**graph, "facedeblur.models.dfpgnet": {"facedeblur.losses.prior"}})
