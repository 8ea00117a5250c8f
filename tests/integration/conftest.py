"""Integration fixtures on the real local stack (deploy/local/stack.sh, default ports)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support import Pipeline, stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def local_stack() -> None:
    stack("up")


@pytest.fixture
def pipeline(local_stack, tmp_path) -> Iterator[Pipeline]:
    p = Pipeline(uuid.uuid4().hex[:10], tmp_path)
    p.setup()
    yield p
    p.stop_workers()
    p.drop()
