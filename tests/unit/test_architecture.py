"""Imports go one way (streams → processors → schemas), and processors stay pure: no Kafka, Faust, ClickHouse,
Prometheus, environment or wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from streams.settings import REPO_ROOT

FORBIDDEN = {
    "schemas": {"processors", "streams", "faust", "kafka", "aiokafka", "clickhouse_driver", "prometheus_client"},
    "processors": {"streams", "faust", "kafka", "aiokafka", "clickhouse_driver", "prometheus_client", "mode"},
}
# Reading the clock or the environment inside processors would make results depend on when/where they run.
IMPURE_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("date", "today"),
                ("os", "getenv"), ("os", "environ")}


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


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_architecture_imports_go_one_way(package):
    offenders = {}
    for path in python_files(package):
        bad = imported_roots(ast.parse(path.read_text())) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(REPO_ROOT))] = sorted(bad)
    assert offenders == {}


def test_architecture_processors_never_read_the_clock_or_environment():
    offenders = []
    for path in python_files("processors"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in IMPURE_CALLS):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert offenders == []
