"""The library's import structure (docs/design.md): floors, no circles, no app.

* Floors: a module may import from its own floor or a lower one, never from a higher one, so
  that the core verifier never depends on FastAPI, the CLI or the test helpers. Every import
  counts here, ``if TYPE_CHECKING:`` ones too: a type is a dependency as well.
* No import circle, neither between the modules of one package nor between the library's
  parts (``jose``, ``keys``, ``verifier``, ``fastapi``...). Imports under ``if TYPE_CHECKING:``
  never run, so they do not count. Imports inside a function do: a lazy import that only
  hides a circle until the function first runs is still a circle, and is reported as one
  (the message says "in a function"). Importing ``a.b.c`` from outside ``a.b`` also runs
  ``a/b/__init__.py``, so that counts as an import of ``a.b`` too.
* The library never imports the app (``tasks_api``): not at module level, not in a function,
  not under TYPE_CHECKING, not by name (``importlib.import_module("tasks_api...")``, or a
  ``"tasks_api.app:create_app"`` string handed to uvicorn).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "authbridge"

# The first path component under authbridge/ decides the floor.
FLOORS = {
    "__init__": 5,  # the public facade re-exports from every floor
    "errors": 0,
    "principal": 0,
    "cache": 0,
    "heap": 0,
    "ttl_cache": 0,
    "redact": 0,
    "answers": 0,
    "credentials": 0,
    "wsgi": 0,
    "bans": 0,
    "user_model": 1,
    "extras": 0,
    "jose": 1,
    "claims": 1,
    "config": 1,
    "cors": 1,
    "organization": 1,
    "guards": 1,  # the organization-role check reads organization.parse_roles
    "sessions": 1,
    "apikeys": 1,
    "revocation": 1,
    "keys": 2,
    "verifier": 3,
    "fastapi": 4,
    "starlette": 4,
    "flask": 4,
    "litestar": 4,
    "django": 4,
    "cli": 4,
    "testing": 4,
    "console": 5,  # the console script: the CLI, or the name of its missing extra
}

# The app's top-level packages: tasks_api, wherever it lives (src/ today, apps/ after the split).
APP_PACKAGES = frozenset(
    {"tasks_api"}
    | {p.parent.name for p in ROOT.glob("src/*/__init__.py") if p.parent.name != "authbridge"}
    | {p.parent.name for p in ROOT.glob("apps/*/src/*/__init__.py")}
)

Kind = Literal["module", "function", "type_checking"]


@dataclass(frozen=True)
class Import:
    """One import statement's target, as the interpreter would resolve it."""

    importer: str  # dotted module name, "authbridge.fastapi.bridge"
    target: str  # dotted name imported: a module, a package, or something outside the library
    path: Path
    line: int
    kind: Kind  # where the statement sits: module level, in a function, under TYPE_CHECKING

    def where(self) -> str:
        place = {"module": "", "function": ", in a function", "type_checking": ", TYPE_CHECKING"}
        return f"{self.path.relative_to(ROOT)}:{self.line}{place[self.kind]}"


def modules_of(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a package's is its
    ``__init__.py``)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _statements(node: ast.AST, kind: Kind) -> Iterator[tuple[ast.AST, Kind]]:
    """Every node under ``node`` with the kind of place it sits in."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield statement, "type_checking"
                yield from _statements(statement, "type_checking")
            for statement in child.orelse:
                yield statement, kind
                yield from _statements(statement, kind)
            continue
        inner: Kind = kind
        if kind == "module" and isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        ):
            inner = "function"
        yield child, inner
        yield from _statements(child, inner)


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The imports of module ``name``; a name imported from a package is the submodule when
    there is one (``from . import bridge``), else the package itself."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node, kind in _statements(ast.parse(path.read_text(encoding="utf-8")), "module"):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in modules else source)
        elif isinstance(node, ast.Call) and _names_import_function(node.func):
            # importlib.import_module("x") / __import__("x"): an import by name
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                targets = [argument.value]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "package.module:attribute", the form uvicorn and entry points import by name
            match = _IMPORT_STRING.fullmatch(node.value)
            if match is not None:
                targets = [match.group(1)]
        for target in dict.fromkeys(targets):
            found.append(Import(name, target, path, getattr(node, "lineno", 0), kind))
    return found


_IMPORT_STRING = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):[A-Za-z_]\w*")


def _names_import_function(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def module_edges(modules: dict[str, Path]) -> list[Import]:
    """Imports between ``modules`` that run (TYPE_CHECKING ones never do).

    Importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first, unless the
    importer is itself inside that package (its ``__init__`` is then already running): those
    implicit imports are edges too.
    """
    edges: list[Import] = []
    for name, path in modules.items():
        for found in imports_of(name, path, modules):
            if found.kind == "type_checking" or found.target not in modules:
                continue
            parts = found.target.split(".")
            for depth in range(1, len(parts) + 1):
                target = ".".join(parts[:depth])
                inside = name == target or name.startswith(target + ".")
                if target in modules and not inside:
                    edges.append(Import(name, target, path, found.line, found.kind))
    return edges


def circles(edges: Iterable[Import], node_of: dict[str, str] | None = None) -> list[list[Import]]:
    """The import circles: each strongly connected group of two or more nodes, or a node that
    imports itself, given as the edges inside it. ``node_of`` maps a module to a coarser node
    (its part of the library); by default each module is a node."""
    graph: dict[str, set[str]] = defaultdict(set)
    labelled: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for edge in edges:
        source = node_of[edge.importer] if node_of else edge.importer
        target = node_of[edge.target] if node_of else edge.target
        if source == target and node_of is not None:
            continue  # a part importing itself is no circle between parts
        graph[source].add(target)
        labelled[source, target].append(edge)
    groups = _strongly_connected(graph)
    found = []
    for group in groups:
        inside = [
            e for (s, t), es in sorted(labelled.items()) if s in group and t in group for e in es
        ]
        if len(group) > 1 or inside:
            found.append(inside)
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit to think about)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def describe(circle: list[Import]) -> str:
    return "\n".join(f"  {e.importer} -> {e.target}  ({e.where()})" for e in circle)


MODULES = modules_of(PACKAGE)
EDGES = module_edges(MODULES)
PACKAGES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")


def _part(module: str) -> str:
    """The top-level part of the library a module belongs to (a key of FLOORS)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


# --- floors ------------------------------------------------------------------------------


def test_every_part_has_a_floor() -> None:
    assert {_part(m) for m in MODULES} <= FLOORS.keys()


@pytest.mark.parametrize(
    "module", sorted(MODULES), ids=lambda m: str(MODULES[m].relative_to(PACKAGE))
)
def test_imports_go_downward_only(module: str) -> None:
    own = FLOORS[_part(module)]
    upward = {
        f"{_part(i.target)} ({i.where()})"
        for i in imports_of(module, MODULES[module], MODULES)
        if i.target.startswith("authbridge.") and FLOORS.get(_part(i.target), -1) > own
    }
    assert not upward, f"{module} imports a higher floor: {sorted(upward)}"


# --- circles -----------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(package: str) -> None:
    """The modules of one package (``authbridge.fastapi``: ``bridge``, ``protect``...) import
    each other without a circle; a package's own subpackages count as its members."""
    members = {m for m in MODULES if m == package or m.startswith(package + ".")}
    inside = [e for e in EDGES if e.importer in members and e.target in members]
    found = circles(inside)
    assert not found, f"import circles in {package}:\n" + "\n\n".join(map(describe, found))


def test_no_import_circle_between_packages() -> None:
    """The library's parts (``jose``, ``keys``, ``verifier``, ``fastapi``...) import each
    other without a circle, module level and function level alike."""
    found = circles(EDGES, node_of={m: _part(m) for m in MODULES})
    assert not found, "import circles between parts of authbridge:\n" + "\n\n".join(
        map(describe, found)
    )


# --- the app -----------------------------------------------------------------------------


def test_the_library_never_imports_the_app() -> None:
    offending = [
        found
        for name, path in MODULES.items()
        for found in imports_of(name, path, MODULES)
        if found.target.split(".")[0] in APP_PACKAGES
    ]
    assert not offending, (
        f"authbridge imports the app ({', '.join(sorted(APP_PACKAGES))}); these modules must "
        "not:\n" + "\n".join(f"  {i.importer} imports {i.target}  ({i.where()})" for i in offending)
    )


# --- the checks themselves find what they claim to -------------------------------------


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return modules_of(root / "pkg")


def test_circle_check_counts_function_imports_not_type_checking(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import x\n",
            "pkg/b.py": "def f():\n    from .a import y\n",  # a lazy import hiding a circle
            "pkg/c.py": "import typing\nif typing.TYPE_CHECKING:\n    from .a import y\n",
            "pkg/d.py": "from . import c\n",
        },
    )
    found = circles(module_edges(modules))
    assert [[(e.importer, e.target, e.kind) for e in circle] for circle in found] == [
        [("pkg.a", "pkg.b", "module"), ("pkg.b", "pkg.a", "function")]
    ]


def test_circle_check_sees_a_package_init_and_parts(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low/__init__.py": "from .inner import thing\n",
            "pkg/low/inner.py": "from ..high import other\n",
            "pkg/high.py": "from .low.inner import thing\n",  # also runs low/__init__.py
        },
    )
    edges = module_edges(modules)
    assert ("pkg.high", "pkg.low") in {(e.importer, e.target) for e in edges}
    parts = {m: m.split(".")[1] if "." in m else "__init__" for m in modules}
    [circle] = circles(edges, node_of=parts)
    assert {(parts[e.importer], parts[e.target]) for e in circle} == {
        ("low", "high"),
        ("high", "low"),
    }


def test_app_check_sees_imports_by_name(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/serve.py": (
                '"""Serves ``tasks_api.app:create_app``."""\n'
                "import importlib\n"
                'FACTORY = "tasks_api.app:create_app"\n'
                'LOGGERS = {"tasks_api": 1}\n'
                "def f():\n"
                "    from tasks_api.db import x\n"
                '    importlib.import_module("tasks_api.settings")\n'
            ),
        },
    )
    targets = {(i.target, i.line) for i in imports_of("pkg.serve", modules["pkg.serve"], modules)}
    assert {t for t in targets if t[0].startswith("tasks_api")} == {
        ("tasks_api.app", 3),
        ("tasks_api.db", 6),
        ("tasks_api.settings", 7),
    }
