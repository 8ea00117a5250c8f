"""Integration fixtures: the real local stack (started by the project's own script), and per-test
topics, database and consumer group so tests never see each other's data. A service that is down
fails the test loudly; nothing is skipped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.clickhouse.client import connect
from streams.clickhouse.migrate import migrate
from streams.kafka_admin import ensure_topics
from streams.settings import REPO_ROOT, Settings

STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> None:
    result = subprocess.run([str(STACK), "up"], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"local stack did not come up:\n{result.stdout}\n{result.stderr}", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_env(tag: str) -> dict[str, str]:
    """Environment for a worker/CLI that uses this test's own topics, database and group."""
    return {
        "SOCIALPULSE_KAFKA__RAW_TOPIC": f"t.{tag}.raw",
        "SOCIALPULSE_KAFKA__ENRICHED_TOPIC": f"t.{tag}.enriched",
        "SOCIALPULSE_KAFKA__DEADLETTER_TOPIC": f"t.{tag}.deadletter",
        "SOCIALPULSE_KAFKA__ALERTS_TOPIC": f"t.{tag}.alerts",
        "SOCIALPULSE_KAFKA__PARTITIONS": "2",
        "SOCIALPULSE_CLICKHOUSE__DATABASE": f"sp_test_{tag}",
        "SOCIALPULSE_WORKER__APP_ID": f"sp-test-{tag}",
    }


class Pipeline:
    """One test's isolated pipeline: settings, env for subprocesses, and worker processes."""

    def __init__(self, tag: str, tmp_path: Path) -> None:
        self.tag = tag
        self.env = settings_env(tag)
        self.tmp_path = tmp_path
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            self.settings = Settings()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.workers: list[subprocess.Popen] = []

    def setup(self) -> None:
        ensure_topics(self.settings.kafka)
        migrate(self.clickhouse(), self.settings.clickhouse.database)

    def clickhouse(self):
        return connect(self.settings.clickhouse)

    def start_worker(self, *, enrich: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        index = len(self.workers)
        env = {**os.environ, **self.env, **(extra_env or {}),
               "SOCIALPULSE_WORKER__WEB_PORT": str(free_port()),
               "SOCIALPULSE_WORKER__DATA_DIR": str(self.tmp_path / f"worker-{index}"),
               "SOCIALPULSE_WORKER__ENRICH": "true" if enrich else "false"}
        log = (self.tmp_path / f"worker-{index}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        self.workers.append(proc)
        return proc

    def worker_log(self, index: int = 0) -> str:
        return (self.tmp_path / f"worker-{index}.log").read_text(errors="replace")[-5000:]

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_for_rows(self, sql: str, expected: int, *, timeout: float = 180.0) -> int:
        client = self.clickhouse()
        deadline = time.monotonic() + timeout
        value = -1
        while time.monotonic() < deadline:
            (value,), = client.execute(sql)
            if value >= expected:
                return value
            for i, proc in enumerate(self.workers):
                if proc.poll() is not None:
                    pytest.fail(f"worker {i} exited with {proc.returncode}:\n{self.worker_log(i)}")
            time.sleep(1.0)
        pytest.fail(f"timed out: {sql!r} gave {value}, expected {expected}\n{self.worker_log(0)}")

    def drop(self) -> None:
        try:
            self.clickhouse().execute(f"DROP DATABASE IF EXISTS {self.settings.clickhouse.database}")
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


@pytest.fixture
def pipeline(stack, tmp_path) -> Iterator[Pipeline]:
    p = Pipeline(uuid.uuid4().hex[:10], tmp_path)
    p.setup()
    yield p
    p.stop_workers()
    p.drop()
