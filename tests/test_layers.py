"""The package's structure holds, checked with the AST of every module (imports inside
functions and under ``TYPE_CHECKING`` included):

- the import layers of ARCHITECTURE.md: nothing imports upwards, siblings stay apart;
- no import cycles between modules, and nothing inside the package imports its root;
- model families register once, at import time of their own folder (the parts they name as
  ``"module:attribute"`` count as imports of the folder);
- no module over 600 lines, no function over 80 lines of code (docstring excluded) without
  a ``# long function:`` reason on the line above it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "potforge"

LAYER = {"core": 0, "data": 1, "descriptors": 2, "electrostatics": 2, "generate": 2,
         "models": 3, "calculators": 4, "export": 4, "training": 4, "validation": 5,
         "active_learning": 6, "cli": 7}
# same-layer packages that must not import each other
SIBLINGS = {2: {"descriptors", "electrostatics", "generate"}, 4: {"calculators", "export", "training"}}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: compiled modules of the package (no .py file)
COMPILED = {"potforge._native"}


def _files():
    return sorted(p for p in SRC.rglob("*.py") if "demo_data" not in p.parts)


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p)[0]: p for p in _files()}


def _resolve(name: str) -> str | None:
    """The longest prefix of a dotted name that is a module of the package."""
    known = _modules().keys() | COMPILED
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module named in the statement, imported name or None) of every import."""
    module, is_package = _module_name(path)
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(node.lineno, target, alias.name) for alias in node.names]
    return found


def _registry_references() -> dict[str, set[str]]:
    """Family folder -> the modules its registration names as ``"module:attribute"`` (the
    registry imports them on first use: dependencies like any import)."""
    from potforge.models import families

    out: dict[str, set[str]] = {}
    for entry in families():
        refs = [entry.potential_ref, entry.example_ref, entry.config_ref, entry.build_ref,
                entry.rebuild_ref, *entry.exporter_refs.values(), *(i.read for i in entry.importers)]
        for ref in filter(None, refs):
            module = ref.partition(":")[0]
            owner = ".".join(module.split(".")[:3])  # potforge.models.<family folder>
            out.setdefault(owner, set()).add(module)
    return out


@cache
def _edges() -> dict[str, set[str]]:
    """Module -> the package modules it imports (``from pkg import mod`` counts as ``pkg.mod``;
    a family's registry references count as imports of its folder)."""
    edges: dict[str, set[str]] = {}
    for name, path in _modules().items():
        out = set()
        for _, target, imported in _imports(path):
            if not target.startswith("potforge"):
                continue
            full = f"{target}.{imported}" if imported else target
            hit = full if full in (_modules().keys() | COMPILED) else _resolve(target)
            if hit is not None and hit != name:
                out.add(hit)
        edges[name] = out
    for owner, modules in _registry_references().items():
        edges[owner] |= modules - {owner}
    return edges


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "potforge" or len(parts) < 2:
        return None
    return parts[1]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_respect_layers(path):
    own = path.relative_to(SRC).parts[0]
    if own not in LAYER:
        return  # top-level modules (__init__) may import anything lazily
    for line, module, _ in _imports(path):
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


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan) of more than one module: the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the package's ~150 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return sorted(cycles)


def test_no_import_cycles():
    assert not _cycles(_edges()), f"import cycles: {_cycles(_edges())}"


def test_cycle_check_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    # the graph sees function-level imports and `from package import module`
    assert "potforge.models.registry" in _edges()["potforge.models.classical.trainable"]
    assert "potforge._native" in _edges()["potforge.core.neighbors"]
    assert "potforge.models.hdnnp.potential" in _edges()["potforge.models.hdnnp"]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_nothing_imports_the_package_root(path):
    if path == SRC / "__init__.py":
        return
    for line, target, imported in _imports(path):
        if target == "potforge":
            full = f"potforge.{imported}" if imported else "potforge"
            assert full in _modules() or full in COMPILED, \
                f"{path}:{line}: imports {imported or 'potforge'} from the package root; import it " \
                "from its home module (the root only re-exports)"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_torch_comes_from_core_lazy(path):
    """Module level: ``from ..core.lazy import torch``, never ``import torch`` (which would
    load PyTorch whenever the module is imported; see core/lazy.py). Inside functions,
    PyTorch's submodules may be imported where they are used."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        assert not any(n == "torch" or n.startswith("torch.") for n in names), \
            f"{path.relative_to(SRC)}:{node.lineno}: imports torch at module level; use core.lazy"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.relative_to(SRC)}: {n} lines (at most {MAX_MODULE_LINES}); split it"


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    doc = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc = body[0].end_lineno - body[0].lineno + 1
    return node.end_lineno - node.lineno + 1 - doc


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_function_size(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > MAX_FUNCTION_LINES:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            assert above.startswith("# long function:"), \
                f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {_code_lines(node)} lines of code " \
                f"(at most {MAX_FUNCTION_LINES} without a '# long function: <reason>' line above it)"


def test_families_register_once_without_lazy_imports():
    """register_family is called at module level of a family folder's __init__ only, and
    models/__init__ imports every such folder at module level (no lazy registration)."""
    models = SRC / "models"
    registering = set()
    for path in _files():
        if models not in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(n) for stmt in tree.body for n in ast.walk(stmt)
                     if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_family":
                assert path.name == "__init__.py" and path.parent.parent == models, \
                    f"{path}:{node.lineno}: register_family belongs in a family folder's __init__.py"
                assert id(node) in top_level, f"{path}:{node.lineno}: registration inside a function"
                registering.add(path.parent.name)
    init = ast.parse((models / "__init__.py").read_text(encoding="utf-8"))
    imported = {alias.name for stmt in init.body if isinstance(stmt, ast.ImportFrom) and stmt.level == 1
                and stmt.module is None for alias in stmt.names}
    assert registering, "no family registers"
    assert registering <= imported, f"families not imported by models/__init__: {registering - imported}"
    for name in ("registry.py", "potential.py", "trainable.py"):
        path = models / name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            lazy = [n for n in ast.walk(fn) if isinstance(n, ast.ImportFrom) and n.level
                    or isinstance(n, (ast.Import, ast.ImportFrom)) and "potforge" in ast.dump(n)]
            assert not lazy, f"models/{name}:{lazy[0].lineno}: potforge import inside {fn.name}"
