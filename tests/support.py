"""Test support for the real stack: start it with the project's own script, and isolated pipelines
(own topics, database, consumer group and worker processes) so tests never see each other's data.
A service that is down fails the test loudly; nothing is skipped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.kafka_admin import ensure_topics
from streams.settings import REPO_ROOT, settings_with_env, topic_names_env
from streams.sinks.clickhouse.client import connect
from streams.sinks.clickhouse.migrate import migrate
from streams.trends.access import migration_substitutions
from streams.workers import stop_processes

STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


def stack(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run deploy/local/stack.sh; fail the test with its output when it fails."""
    result = subprocess.run([str(STACK), *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        pytest.fail(f"stack.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(tag: str) -> dict[str, str]:
    """Settings for a worker/CLI that uses this test's own topics, database and consumer group."""
    return {
        **topic_names_env(f"t.{tag}"),
        "SOCIALPULSE_KAFKA__PARTITIONS": "2",
        "SOCIALPULSE_CLICKHOUSE__DATABASE": f"sp_test_{tag}",
        "SOCIALPULSE_WORKER__APP_ID": f"sp-test-{tag}",
    }


class Pipeline:
    """One test's isolated pipeline: settings, the env for subprocesses, and its worker processes."""

    def __init__(self, tag: str, tmp_path: Path, base_env: dict[str, str] | None = None) -> None:
        self.tag = tag
        self.env = {**(base_env or {}), **isolated_env(tag)}
        self.tmp_path = tmp_path
        self.settings = settings_with_env(self.env)
        self.workers: list[subprocess.Popen] = []

    def setup(self) -> None:
        ensure_topics(self.settings.kafka)
        migrate(self.clickhouse(), self.settings.clickhouse.database, substitutions=migration_substitutions())

    def clickhouse(self):
        return connect(self.settings.clickhouse)

    def start_worker(self, *, enrich: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        index = len(self.workers)
        self.web_ports = getattr(self, "web_ports", [])
        port = free_port()
        self.web_ports.append(port)
        env = {**os.environ, **self.env, **(extra_env or {}),
               "SOCIALPULSE_WORKER__WEB_PORT": str(port),
               "SOCIALPULSE_WORKER__DATA_DIR": str(self.tmp_path / f"worker-{index}"),
               "SOCIALPULSE_WORKER__ENRICH": "true" if enrich else "false"}
        log = (self.tmp_path / f"worker-{index}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        self.workers.append(proc)
        return proc

    def kill_worker(self, index: int) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()

    def worker_log(self, index: int = 0) -> str:
        """The end of a worker's log (info level), errors and warnings first: what a failure message needs."""
        text = (self.tmp_path / f"worker-{index}.log").read_text(errors="replace")
        problems = [line for line in text.splitlines() if "[ERROR]" in line or "[WARNING]" in line
                    or "[CRITICAL]" in line]
        return "\n".join(problems[-30:]) + "\n--- last lines ---\n" + text[-3000:]

    def live_workers(self) -> list[subprocess.Popen]:
        return [p for p in self.workers if p.poll() is None]

    def stop_workers(self) -> None:
        stop_processes(self.workers)

    def scalar(self, sql: str, params: dict | None = None):
        (value,), = self.clickhouse().execute(sql, params or {})
        return value

    def wait_for_rows(self, sql: str, expected: int, *, timeout: float = 180.0, allow_dead: set[int] = frozenset()
                      ) -> int:
        """Poll `sql` (one number) until it reaches `expected`; fails early when a worker died."""
        deadline = time.monotonic() + timeout
        value = -1
        while time.monotonic() < deadline:
            try:
                value = self.scalar(sql)
            except Exception as exc:  # noqa: BLE001 - ClickHouse may be down on purpose in fault tests
                value = f"unavailable ({exc.__class__.__name__})"
            if isinstance(value, int) and value >= expected:
                return value
            for i, proc in enumerate(self.workers):
                if i not in allow_dead and proc.poll() is not None:
                    pytest.fail(f"worker {i} exited with {proc.returncode}:\n{self.worker_log(i)}")
            time.sleep(1.0)
        pytest.fail(f"timed out: {sql!r} gave {value}, expected {expected}\n{self.worker_log(len(self.workers) - 1)}")

    def drop(self) -> None:
        try:
            self.clickhouse().execute(f"DROP DATABASE IF EXISTS {self.settings.clickhouse.database}")
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass
