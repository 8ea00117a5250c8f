"""Imports go one way (streams → processors → schemas), and processors stay pure: no Kafka, Faust, ClickHouse,
Prometheus, environment or wall clock. No import cycles in schemas/, processors/, streams/; stage modules
(streams/stages/) do not import each other; the product and its tests never import bench/."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from streams.settings import REPO_ROOT

FORBIDDEN = {
    "schemas": {"processors", "streams", "faust", "kafka", "aiokafka", "clickhouse_driver", "prometheus_client"},
    "processors": {"streams", "faust", "kafka", "aiokafka", "clickhouse_driver", "prometheus_client", "mode"},
}
# Benchmarks measure the product; the product and its tests must work without them (bench/tests/ may).
NOT_BENCH = ("schemas", "processors", "streams", "tests")
# Reading the clock or the environment inside processors would make results depend on when/where they run.
IMPURE_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("date", "today"),
                ("os", "getenv"), ("os", "environ")}
GRAPH_PACKAGES = ("schemas", "processors", "streams")
STAGES = "streams.stages"
# Import edges of known cycles, each deleted with the change that breaks its cycle (the test fails on an entry
# whose import is gone, so the list only shrinks). Empty since issue 17 broke processors.enrich <-> models.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


def python_files(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def module_name(path: Path, root: Path = REPO_ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path, modules: Iterable[str], root: Path = REPO_ROOT) -> set[str]:
    """The modules among `modules` that `path` imports: anywhere in the file (an import inside a function is a
    dependency too), except under `if TYPE_CHECKING:` (never executed). `from package import name` counts as an
    import of package.name when that is a module, else of the package; relative imports are resolved."""
    known = set(modules)
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package[:len(package) - child.level + 1] if child.level else []
                module = ".".join(base + ([child.module] if child.module else []))
                found.update(f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return (found & known) - {name}


def import_graph(root: Path = REPO_ROOT, packages: Iterable[str] = GRAPH_PACKAGES) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    return {name: imported_modules(path, paths, root) for name, path in paths.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def stage_of(module: str) -> str | None:
    """The stage a module belongs to: the first name below streams.stages (a module or a subpackage)."""
    parts = module.split(".")
    return ".".join(parts[:3]) if module.startswith(f"{STAGES}.") else None


def stage_cross_imports(graph: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Per stage module, the modules of other stages it imports."""
    crossing = {}
    for module, imports in graph.items():
        stage = stage_of(module)
        if stage is not None and (bad := sorted(i for i in imports if stage_of(i) not in (None, stage))):
            crossing[module] = bad
    return crossing


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_architecture_imports_go_one_way(package):
    offenders = {}
    for path in python_files(package):
        bad = imported_roots(ast.parse(path.read_text())) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(REPO_ROOT))] = sorted(bad)
    assert offenders == {}


@pytest.mark.parametrize("package", NOT_BENCH)
def test_architecture_nothing_imports_bench(package):
    offenders = [str(p.relative_to(REPO_ROOT)) for p in python_files(package)
                 if "bench" in imported_roots(ast.parse(p.read_text()))]
    assert offenders == []


def test_architecture_processors_never_read_the_clock_or_environment():
    offenders = []
    for path in python_files("processors"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in IMPURE_CALLS):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert offenders == []


def test_architecture_no_import_cycles():
    graph = import_graph()
    for source, target in KNOWN_CYCLE_EDGES:
        assert target in graph.get(source, set()), f"{source} -> {target} is gone: delete it from KNOWN_CYCLE_EDGES"
        graph[source] = graph[source] - {target}
    assert cycles(graph) == []


def test_architecture_stage_modules_do_not_import_each_other():
    # Over whatever streams/stages/ holds (nothing before it exists); the rule itself is tested just below.
    assert stage_cross_imports(import_graph()) == {}


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_architecture_graph_finds_cycles_through_submodules_relative_and_function_imports(tmp_path):
    _write(tmp_path, {
        "streams/__init__.py": "",
        "streams/a.py": "from streams import b\n",  # a submodule imported by `from package import name`
        "streams/b.py": "def f():\n    from .c import x\n",  # relative, inside a function
        "streams/c.py": "import streams.a\nx = 1\n",
        "streams/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from streams.e import T\n",
        "streams/e.py": "from streams.d import TYPE_CHECKING\n",  # names of a module, not submodules
    })
    graph = import_graph(tmp_path, ["streams"])
    assert graph["streams.b"] == {"streams.c"} and graph["streams.d"] == set() and graph["streams.e"] == {"streams.d"}
    assert cycles(graph) == [["streams.a", "streams.b", "streams.c"]]


def test_architecture_stage_rule_flags_a_stage_importing_another(tmp_path):
    _write(tmp_path, {
        "streams/__init__.py": "",
        "streams/runtime.py": "",
        "streams/stages/__init__.py": "from streams.stages import enrich, store\n",  # the package may list them
        "streams/stages/enrich.py": "from streams import runtime\nfrom streams.stages.store import sink\n",
        "streams/stages/store/__init__.py": "from .sink import sink\n",  # a stage may be a package
        "streams/stages/store/sink.py": "from streams.runtime import x\n",
    })
    graph = import_graph(tmp_path, ["streams"])
    assert stage_cross_imports(graph) == {"streams.stages.enrich": ["streams.stages.store.sink"]}
