"""The verb modules never import the ``regsim.cli`` package itself, which imports every one of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import regsim.cli

CLI = Path(regsim.cli.__file__).parent
MODULES = sorted(p for p in CLI.glob("*.py") if p.name != "__init__.py")
SUBMODULES = {p.stem for p in MODULES}


def _imports_of_the_package(path: Path) -> list[str]:
    """The import statements of ``path`` that load names from ``regsim/cli/__init__.py``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            package = (node.level == 1 and node.module is None) or (node.level == 0 and node.module == "regsim.cli") \
                or (node.level == 2 and node.module == "cli")
            if package and any(alias.name not in SUBMODULES for alias in node.names):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Import) and any(alias.name == "regsim.cli" for alias in node.names):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_verb_module_does_not_import_the_package_init(path):
    assert _imports_of_the_package(path) == []
