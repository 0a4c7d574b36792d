"""The import layers of ARCHITECTURE.md hold: nothing imports upwards, siblings stay apart.

Checks every ``import``/``from ... import`` of potforge modules (including imports inside
functions) with the AST.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "potforge"

LAYER = {"core": 0, "data": 1, "descriptors": 2, "electrostatics": 2, "generate": 2,
         "models": 3, "calculators": 4, "export": 4, "training": 4, "validation": 5,
         "active_learning": 6, "cli": 7}
# same-layer packages that must not import each other
SIBLINGS = {2: {"descriptors", "electrostatics", "generate"}, 4: {"calculators", "export", "training"}}


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "potforge" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(SRC.parent).with_suffix("")
    here = list(rel.parts)
    if here[-1] == "__init__":
        here = here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)]
                if path.name != "__init__.py":
                    base = here[: len(here) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def _files():
    return sorted(p for p in SRC.rglob("*.py") if "demo_data" not in p.parts)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_respect_layers(path):
    own = path.relative_to(SRC).parts[0]
    if own not in LAYER:
        return  # top-level modules (__init__) may import anything lazily
    for line, module in _imports(path):
        target = _package(module)
        if target is None or target == own or target not in LAYER:
            continue
        assert target != "cli", f"{path}:{line} imports the CLI"
        assert LAYER[target] <= LAYER[own], \
            f"{path}:{line}: {own} (layer {LAYER[own]}) imports {module} (layer {LAYER[target]})"
        siblings = SIBLINGS.get(LAYER[own], set())
        assert not (own in siblings and target in siblings and LAYER[target] == LAYER[own]), \
            f"{path}:{line}: sibling packages {own} and {target} must stay independent"


def test_layer_table_covers_every_package():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"demo_data"} <= set(LAYER), packages - set(LAYER)
