"""End to end per network: a fake server speaking the network's protocol (tests/fakes/) → `socialpulse listen` (a real
subprocess) → Kafka → worker → ClickHouse. Every served post is stored exactly once, every deletion reaches the
deletions topic, the checkpoint reaches the sources topic, and a connector killed with -9 resumes with no gap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from schemas.deletion import Deletion
from schemas.source_checkpoint import SourceCheckpoint
from streams.settings import REPO_ROOT
from tests.fakes import NETWORKS, fake_for
from tests.fakes.server import FakeServer
from tests.support import Pipeline, free_port


class Listener:
    """A `socialpulse listen` subprocess on the pipeline's topics, pointed at a fake server."""

    def __init__(self, pipeline: Pipeline, fake: FakeServer, tmp_path: Path) -> None:
        self.pipeline, self.fake, self.tmp_path = pipeline, fake, tmp_path
        self.source_id = f"e2e-{fake.network}-{pipeline.tag}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> subprocess.Popen:
        self.metrics_port = free_port()
        log = (self.tmp_path / f"listen-{self.starts}.log").open("wb")
        self.starts += 1
        env = {**os.environ, **self.pipeline.env, **self.fake.env()}
        argv = [sys.executable, "-m", "streams.cli", "listen", self.fake.network, *self.fake.listen_args(),
                "--source-id", self.source_id, "--metrics-port", str(self.metrics_port),
                "--checkpoint-seconds", "0.5", "--loglevel", "info"]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        return self.proc

    def log(self) -> str:
        return "\n".join((self.tmp_path / f"listen-{i}.log").read_text(errors="replace")[-3000:]
                         for i in range(self.starts))

    def metric(self, name: str) -> float | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + "{") and f'source="{self.source_id}"' in line:
                    return float(line.rsplit(" ", 1)[1])
        return None

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            values += [record.value for record in consumer]
    finally:
        consumer.close()
    return values


def wait_consuming(pipeline: Pipeline, *, timeout: float = 120) -> None:
    """Until the worker's /metrics shows the lag of a partition of the raw topic: its stages own partitions."""
    raw = pipeline.settings.kafka.raw_topic
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web_ports[-1]}/metrics",  # noqa: S310
                                        timeout=5) as response:
                if f'topic="{raw}"' in response.read().decode():
                    return
        except OSError:
            pass
        assert pipeline.workers[-1].poll() is None, pipeline.worker_log(len(pipeline.workers) - 1)
        time.sleep(0.5)
    pytest.fail(f"the worker did not start consuming:\n{pipeline.worker_log(len(pipeline.workers) - 1)}")


def wait_stored(pipeline: Pipeline, listener: Listener, expected: int, *, timeout: float = 240) -> None:
    db = pipeline.settings.clickhouse.database
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener.proc is not None and listener.proc.poll() is not None:
            pytest.fail(f"the connector exited with {listener.proc.returncode}:\n{listener.log()}")
        stored = pipeline.scalar(f"SELECT uniqExact(event_id) FROM {db}.events")
        if stored >= expected:
            return
        for i, worker in enumerate(pipeline.workers):
            if worker.poll() is not None:
                pytest.fail(f"worker {i} exited:\n{pipeline.worker_log(i)}")
        time.sleep(1)
    pytest.fail(f"{stored} of {expected} posts stored\n--- connector ---\n{listener.log()}\n"
                f"--- worker ---\n{pipeline.worker_log(0)}")


def assert_stored_once(pipeline: Pipeline, fake: FakeServer) -> None:
    db = pipeline.settings.clickhouse.database
    ids = {row[0] for row in pipeline.clickhouse().execute(f"SELECT event_id FROM {db}.events FINAL")}
    assert ids == fake.expected_event_ids()
    assert pipeline.scalar(f"SELECT count() FROM {db}.events FINAL") == len(fake.expected_event_ids())
    letters = pipeline.clickhouse().execute(
        f"SELECT error_code, count() FROM {db}.dead_letters FINAL GROUP BY error_code")
    assert "unknown_shape" not in dict(letters), f"nothing valid is dead-lettered: {letters}"


@pytest.mark.parametrize("network", NETWORKS)
def test_listen_end_to_end_every_served_post_stored_once(pipeline: Pipeline, tmp_path: Path, network: str) -> None:
    fake = fake_for(network, count=60)
    with fake.running():
        pipeline.start_worker()
        listener = Listener(pipeline, fake, tmp_path)
        listener.start()
        wait_stored(pipeline, listener, len(fake.expected_event_ids()))
        assert_stored_once(pipeline, fake)
        assert listener.metric("socialpulse_source_posts_total") >= len(fake.expected_event_ids())
        assert listener.terminate() == 0, listener.log()
    kafka = pipeline.settings.kafka
    if fake.expected_deletion_ids():
        values = read_topic(kafka.bootstrap_servers, kafka.deletions_topic, len(fake.expected_deletion_ids()))
        assert {Deletion.model_validate_json(v).deletion_id for v in values} == fake.expected_deletion_ids()
    checkpoints = [SourceCheckpoint.model_validate_json(v)
                   for v in read_topic(kafka.bootstrap_servers, kafka.sources_topic, 1)]
    assert checkpoints and checkpoints[-1].source == listener.source_id
    assert checkpoints[-1].posts_total >= len(fake.expected_event_ids())


@pytest.mark.parametrize("network", NETWORKS)
def test_listen_kill_9_mid_stream_and_restart_store_every_post_once(pipeline: Pipeline, tmp_path: Path,
                                                                    network: str) -> None:
    fake = fake_for(network, count=300)
    if hasattr(fake, "pace"):  # streams: a post every 20 ms
        fake.pace = 0.02
    if hasattr(fake, "poll_seconds"):  # pollers: the next few posts every 0.5 s
        fake.poll_seconds = 0.5
    db = pipeline.settings.clickhouse.database
    with fake.running():
        pipeline.start_worker()
        wait_consuming(pipeline)  # the stream lasts seconds: the kill must not wait for the worker's start-up
        listener = Listener(pipeline, fake, tmp_path)
        listener.start()
        wait_stored(pipeline, listener, 60)
        assert listener.proc is not None
        listener.proc.send_signal(signal.SIGKILL)
        listener.proc.wait()
        stored_at_kill = pipeline.scalar(f"SELECT uniqExact(event_id) FROM {db}.events")
        assert stored_at_kill < len(fake.expected_event_ids()), "the kill came after the end: no resume shown"
        listener.start()
        wait_stored(pipeline, listener, len(fake.expected_event_ids()))
        assert_stored_once(pipeline, fake)
        assert listener.terminate() == 0
    assert "resuming from" in (tmp_path / "listen-1.log").read_text(), "the restart resumed from its checkpoint"
