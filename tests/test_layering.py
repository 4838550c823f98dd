"""The layering of docs/architecture.md, read from the source: which package may import which, and no cycles.

Every module under regsim/ is parsed (never imported) and every import it names is collected,
at module level, inside functions and under ``TYPE_CHECKING`` alike: an import that only runs
late is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "regsim"

#: what each package may import besides itself; a package not listed here may import anything
#: below the interface. The foundation (regsim.errors re-exports the registry's error root,
#: regsim.units parses quantities) may be imported by every layer above the registry.
FOUNDATION = {"regsim", "regsim.errors", "regsim.units"}
ALLOWED: dict[str, set[str]] = {
    "regsim.registry": set(),
    "regsim.errors": {"regsim.registry"},
    "regsim.units": {"regsim.errors", "regsim.registry"},
    "regsim.sim": {"regsim.registry", "regsim.errors"},
    "regsim.spec": {"regsim.registry", *FOUNDATION},
    "regsim.traces": {"regsim.registry", *FOUNDATION},
    "regsim.models": {"regsim.registry", "regsim.sim", "regsim.spec", "regsim.traces", *FOUNDATION},
}
#: the interface: nothing else imports it
INTERFACE = ("regsim.cli", "regsim.server", "regsim.demo")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str) -> Iterator[str]:
    """The regsim modules ``name`` imports (a ``from X import y`` names ``X.y`` when that is a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: sorted(set(imports_of(name))) for name in MODULES}


def layer_of(name: str) -> str:
    """The most specific key of ALLOWED (or INTERFACE entry) that ``name`` falls under."""
    owners = [key for key in (*ALLOWED, *INTERFACE) if name == key or name.startswith(key + ".")]
    return max(owners, key=len) if owners else name.split(".")[1] if "." in name else name


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_walk_sees_the_whole_package():
    assert {"regsim.registry.registry", "regsim.sim.network", "regsim.models.rollout.central",
            "regsim.scenario.loader", "regsim.cli"} <= set(MODULES)
    assert "regsim.registry.receipts" in GRAPH["regsim.registry.registry"]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_low_layer_imports_only_what_lies_below_it(package):
    wrong = [f"{name} imports {target}" for name, targets in GRAPH.items() if layer_of(name) == package
             for target in targets
             if not within(target, package) and not any(within(target, allowed) for allowed in ALLOWED[package])
             and target != "regsim"]
    assert not wrong, "\n".join(wrong)


def test_nothing_below_the_interface_imports_it():
    wrong = [f"{name} imports {target}" for name, targets in GRAPH.items()
             if not any(within(name, top) for top in INTERFACE) for target in targets
             if any(within(target, top) for top in INTERFACE)]
    assert not wrong, "\n".join(wrong)


def test_a_model_family_never_imports_another_and_the_core_imports_none():
    families = {name.split(".")[2] for name in MODULES if name.count(".") >= 2 and name.startswith("regsim.models.")}
    assert {"core", "rollout", "requests", "trace"} <= families
    wrong = []
    for name, targets in GRAPH.items():
        if not name.startswith("regsim.models."):
            continue
        own = name.split(".")[2]
        for target in targets:
            other = target.split(".")[2] if target.startswith("regsim.models.") else None
            if other is not None and other not in (own, "core"):
                wrong.append(f"{name} imports {target}")
            if own == "core" and (target == "regsim.models" or other not in (None, "core")):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
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
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_there_is_no_import_cycle_anywhere():
    found = cycles(GRAPH)
    assert not found, "\n".join(" <-> ".join(c) for c in found)
