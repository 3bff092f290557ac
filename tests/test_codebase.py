"""The codebase's shape, checked on every run: module sizes, function complexity, layering.

These rules bind every change (docs/architecture.md explains them):

- no module of ``geo/``, ``maps/`` or ``api/`` is longer than 800 lines, except
  ``geo/assign.py`` (one concern, the point-in-polygon index, explained in its docstring);
- no function has a cyclomatic complexity above 20 (radon's grade D or worse);
- no module imports another module's underscore names or an underscore module (shared helpers
  are public names of public modules); tests are exempt;
- imports go api → maps → geo and api → geo, never back.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("geo", "maps", "api")
MAX_LINES = 800
LONG_MODULES_ALLOWED = {"geo/assign.py"}
MAX_COMPLEXITY = 20
#: which packages each package may import
ALLOWED_IMPORTS = {"geo": {"geo"}, "maps": {"maps", "geo"}, "api": {"api", "maps", "geo"}}


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "migrations" not in p.parts)


@functools.cache
def _tree(path: Path) -> ast.AST:
    """A module's syntax tree, parsed once per run for all the checks."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in a module, relative ones resolved."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], node.lineno))
    return out


def _private_imports(tree: ast.AST) -> list[tuple[str, list[str], int]]:
    """Imports of pingan's underscore names or underscore modules."""
    found = []
    for module, names, line in _imports(tree):
        if module.split(".")[0] not in PACKAGES:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private or any(part.startswith("_") and not part.startswith("__")
                          for part in module.split(".")):
            found.append((module, names, line))
    return found


def test_the_checks_see_the_packages():
    names = {_name(p) for p in _modules()}
    assert {"geo/assign.py", "api/app.py", "maps/__init__.py"} <= names
    assert len(names) > 60


def test_no_module_is_longer_than_800_lines():
    long = {_name(p): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= LONG_MODULES_ALLOWED, long


def test_no_function_is_more_complex_than_20():
    radon = pytest.importorskip("radon.complexity")
    complex_ = [f"{_name(p)}:{b.lineno} {b.name} ({b.complexity})"
                for p in _modules()
                for b in radon.cc_visit(p.read_text(encoding="utf-8"))
                if b.complexity > MAX_COMPLEXITY]
    assert complex_ == []


def test_no_module_imports_private_names_of_another():
    found = [f"{_name(path)}:{line} from {module} import {names}"
             for path in _modules()
             for module, names, line in _private_imports(_tree(path))]
    assert found == []


def test_layers_import_downwards_only():
    found = []
    for path in _modules():
        package = _name(path).split("/")[0]
        for module, _, line in _imports(_tree(path)):
            top = module.split(".")[0]
            if top in PACKAGES and top not in ALLOWED_IMPORTS[package]:
                found.append(f"{_name(path)}:{line} imports {module}")
    assert found == []


def test_the_private_import_check_catches_them():
    tree = ast.parse("from geo.coverage import _radius, Grid\nfrom geo._validate import x\n"
                     "from geo.grid import Grid\nfrom numpy import _core\n"
                     "from __future__ import annotations\nimport geo._spacetime\n")
    assert [(m, line) for m, _, line in _private_imports(tree)] == [
        ("geo.coverage", 1), ("geo._validate", 2), ("geo._spacetime", 6)]
