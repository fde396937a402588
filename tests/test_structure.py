"""No module imports another module's private names.

A name that starts with ``_`` belongs to the module that defines it.  Importing a private
*module* of one's own package (``from popreg.campaigns import _field``) is fine: that is
how a package splits its work.  What a private module shares with its siblings it names
without the underscore (the module's own underscore already keeps it out of the public
surface).  The layer contracts live in pyproject.toml (``lint-imports``, run by ``make lint``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules(src: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under ``src/popreg``."""
    out = {}
    for path in sorted((src / "popreg").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(src: Path) -> list[str]:
    """``file:line: module -> name`` for each private name imported from another module."""
    modules = _modules(src)
    found = []
    for module, path in modules.items():
        found += _private_imports_of(src, modules, module, path)
    return found


def _private_imports_of(src: Path, modules: dict[str, Path], module: str, path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _absolute(module, path.name == "__init__.py", node)
        if not source.startswith("popreg") or source == module:
            continue
        for alias in node.names:
            name = alias.name
            if not name.startswith("_") or name.startswith("__"):
                continue
            if f"{source}.{name}" in modules:  # a private module of that package
                continue
            found.append(f"{path.relative_to(src)}:{node.lineno}: {source} -> {name}")
    return found


def test_the_check_sees_private_names_and_allows_private_modules(tmp_path):
    pkg = tmp_path / "popreg" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "_rules.py").write_text("Public = _Context = _helper = object\n", encoding="utf-8")
    (pkg / "views.py").write_text(
        "from popreg.demo import _rules\n"
        "from popreg.demo._rules import Public\n"
        "from popreg.demo._rules import _Context\n"
        "from ._rules import __doc__, _helper\n",
        encoding="utf-8",
    )
    assert private_imports(tmp_path) == [
        "popreg/demo/views.py:3: popreg.demo._rules -> _Context",
        "popreg/demo/views.py:4: popreg.demo._rules -> _helper",
    ]


def test_no_module_imports_private_names_of_another():
    assert private_imports(SRC) == []
