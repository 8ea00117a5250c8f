"""Test support for the real stack: start it with the project's own script, and isolated pipelines
(own topics, database, consumer group and worker processes) so tests never see each other's data.
A service that is down fails the test loudly; nothing is skipped."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------------------- poison mixed into good posts

FAULT_INJECTION = REPO_ROOT / "tests" / "fault_injection"  # sitecustomize: markers make enrichment / rows raise
LARGE_TEXT_BYTES = (500_000, 800_000, 950_000)  # raw records near the broker's 1 MiB limit


def fault_injection_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(FAULT_INJECTION), str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "SOCIALPULSE_TEST_FAULTS": "1"}


def mixed_raw_event(event_id: str, text: str, minute: int) -> bytes:
    created = f"2026-11-20T10:{minute % 60:02d}:00+00:00"
    network, native = event_id.split(":", 1)
    return json.dumps({
        "event_id": event_id, "network": network, "native_id": native, "kind": "post",
        "author": {"id": f"u{minute % 11}", "handle": f"user{minute % 11}", "name": "", "followers": minute},
        "text": text, "lang_hint": None, "created_at": created, "ingested_at": created,
    }).encode()


def poison_mix(good: int) -> tuple[list[tuple[bytes, bytes]], dict[str, tuple[str, str]]]:
    """`good` good posts with bad records spread among them, as (key, value); and, per bad record's event id, the
    (error code, dead-letter stage) it must end with."""
    texts = ["Loving the new Nimbus X5 camera 😍 #nimbus", "Brewster & Co coffee in Madrid is great",
             "El servicio de Altair Air fue horrible, nunca más", "@nimbus my X5 battery dies by noon. Fix it!"]
    records = [(f"x:good{i}".encode(), mixed_raw_event(f"x:good{i}", f"{texts[i % 4]} #{i}", i))
               for i in range(good)]
    bad: dict[str, tuple[str, str]] = {}
    poison: list[tuple[str, str]] = [(f"x:large{n}", "big " * (n // 4)) for n in LARGE_TEXT_BYTES]
    bad.update({event_id: ("text_too_long", "validate") for event_id, _ in poison})
    for i in range(2):
        poison.append((f"x:raise-enrich{i}", f"Nimbus RAISE-IN-ENRICH {i}"))
        bad[f"x:raise-enrich{i}"] = ("processing_failed", "enrich")
        poison.append((f"x:raise-row{i}", f"Nimbus RAISE-IN-ROW {i}"))
        bad[f"x:raise-row{i}"] = ("processing_failed", "sink")
    step = max(1, good // (len(poison) + 1))
    for n, (event_id, text) in enumerate(poison):
        records.insert((n + 1) * step + n, (event_id.encode(), mixed_raw_event(event_id, text, n)))
    return records, bad


def produce_all(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=1_048_576)
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()


def assert_poison_mix_outcome(p: Pipeline, good: int, bad: dict[str, tuple[str, str]], *, timeout: float) -> None:
    """Every good post stored once, every bad record a dead letter with its code, no lag left, no worker restart."""
    from streams.progress import pipeline_lag, wait_until_drained
    from streams.settings import consumer_groups

    db = p.settings.clickhouse.database
    p.wait_for_rows(f"SELECT count() FROM {db}.dead_letters FINAL", len(bad), timeout=timeout)
    p.wait_for_rows(f"SELECT uniqExact(event_id) FROM {db}.events", good, timeout=timeout)
    groups = consumer_groups(p.settings)
    wait_until_drained(lambda: pipeline_lag(p.settings.kafka.bootstrap_servers, groups), timeout=120)
    assert p.scalar(f"SELECT count() FROM {db}.events FINAL") == good
    assert p.scalar(f"SELECT countIf(NOT startsWith(event_id, 'x:good')) FROM {db}.events") == 0  # no bad record stored
    letters = p.clickhouse().execute(
        f"SELECT event_id, error_code, stage, original_size, length(original_b64) FROM {db}.dead_letters FINAL")
    assert {row[0]: (row[1], row[2]) for row in letters} == bad
    for event_id, _, _, size, b64 in letters:
        if event_id.startswith("x:large"):
            assert size > 500_000 and b64 < 400_000, "a large original is kept as a bounded prefix"
    assert p.live_workers() == p.workers, "a worker exited"
    log = (p.tmp_path / "worker-0.log").read_text(errors="replace")
    assert "stage crashed" not in log and "MessageSizeTooLarge" not in log
