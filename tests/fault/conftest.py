"""Fault tests stop and kill real services, so they get a stack of their own (ports +100, its own home):
the shared local stack, and anyone using it, is never disturbed."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from streams.settings import REPO_ROOT
from tests.support import Pipeline, stack

FAULT_HOME = REPO_ROOT / ".local" / "fault-stack"
FAULT_STACK_ENV = {
    "SOCIALPULSE_HOME": str(FAULT_HOME),
    "SOCIALPULSE_KAFKA_PORT": "19192",
    "SOCIALPULSE_KAFKA_CONTROLLER_PORT": "19193",
    "SOCIALPULSE_CLICKHOUSE_TCP_PORT": "19100",
    "SOCIALPULSE_CLICKHOUSE_HTTP_PORT": "18223",
}
FAULT_PIPELINE_ENV = {
    "SOCIALPULSE_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:19192",
    "SOCIALPULSE_CLICKHOUSE__PORT": "19100",
    "SOCIALPULSE_CLICKHOUSE__HTTP_PORT": "18223",
    "SOCIALPULSE_KAFKA__SESSION_TIMEOUT_SECONDS": "10",
    "SOCIALPULSE_CLICKHOUSE__MAX_BACKOFF_SECONDS": "3",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/fault" in str(item.fspath):
            item.add_marker(pytest.mark.fault)


class FaultStack:
    def __call__(self, *args: str) -> str:
        return stack(*args, env=FAULT_STACK_ENV)


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[FaultStack]:
    shared_jars = REPO_ROOT / ".local" / "kafka" / "libs"
    own_jars = FAULT_HOME / "kafka" / "libs"
    if shared_jars.is_dir() and not own_jars.exists():  # reuse the jar cache instead of resolving again
        shutil.copytree(shared_jars, own_jars)
    run = FaultStack()
    run("up")
    yield run
    run("down")


@pytest.fixture
def fault_pipeline(fault_stack, tmp_path) -> Iterator[Pipeline]:
    p = Pipeline(uuid.uuid4().hex[:10], tmp_path, base_env=FAULT_PIPELINE_ENV)
    p.setup()
    yield p
    p.stop_workers()
    fault_stack("up")  # a test that failed half-way must not leave a service down for the next one
    p.drop()
