"""deploy/local/stack.sh against the real services, on a private SOCIALPULSE_HOME and free ports, so it
never touches the stack the other integration tests share (nor data under .local/)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "deploy" / "local" / "stack.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.ports = {
            "SOCIALPULSE_KAFKA_PORT": _free_port(),
            "SOCIALPULSE_KAFKA_CONTROLLER_PORT": _free_port(),
            "SOCIALPULSE_CLICKHOUSE_TCP_PORT": _free_port(),
            "SOCIALPULSE_CLICKHOUSE_HTTP_PORT": _free_port(),
            "SOCIALPULSE_PROMETHEUS_PORT": _free_port(),
        }
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("SOCIALPULSE_") and k != "PROMETHEUS_CONFIG"
        }
        self.env.update({k: str(v) for k, v in self.ports.items()})
        self.env["SOCIALPULSE_HOME"] = str(home)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['SOCIALPULSE_KAFKA_PORT']}"

    def run(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(STACK), *args], capture_output=True, text=True, timeout=300, env={**self.env, **env}
        )
        if check and result.returncode != 0:
            pytest.fail(f"stack.sh {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def pid(self, service: str) -> int:
        return int((self.home / "run" / f"{service}.pid").read_text())

    def clickhouse(self, **kw: str) -> Client:
        return Client(host="127.0.0.1", port=self.ports["SOCIALPULSE_CLICKHOUSE_TCP_PORT"], **kw)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack-home")
    cached = REPO / ".local" / "kafka" / "libs"
    if (cached / ".pom.sha256").exists():  # reuse the jar cache instead of asking Maven again
        shutil.copytree(cached, home / "kafka" / "libs")
    s = Stack(home)
    s.run("up")
    try:
        yield s
    finally:
        s.run("clean", check=False)


def test_stack_up_is_idempotent_and_status_reports_up(stack: Stack) -> None:
    pids = (stack.pid("kafka"), stack.pid("clickhouse"))
    again = stack.run("up")
    assert "already running" in again.stdout
    assert (stack.pid("kafka"), stack.pid("clickhouse")) == pids
    status = stack.run("status", "kafka", "clickhouse")
    assert [line.split()[1] for line in status.stdout.splitlines()[1:3]] == ["up", "up"]


def test_stack_kafka_creates_topics_by_admin_and_never_automatically(stack: Stack) -> None:
    topic = f"stack.test.{int(time.time() * 1000)}"

    asyncio.run(_create_topic(stack.bootstrap, topic, partitions=2))
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", max_block_ms=5000)
    producer.send(topic, key=b"k", value=b"hello").get(timeout=30)
    with pytest.raises(KafkaTimeoutError):  # auto.create.topics.enable=false
        producer.send(f"{topic}.missing", value=b"x").get(timeout=30)
    producer.close()
    first = _first_message(stack.bootstrap, topic)
    assert (first.key, first.value) == (b"k", b"hello")


def test_stack_clickhouse_default_user_writes_and_bi_user_only_reads(stack: Stack) -> None:
    ch = stack.clickhouse()
    ch.execute("CREATE DATABASE IF NOT EXISTS socialpulse")
    ch.execute("CREATE TABLE IF NOT EXISTS socialpulse.stack_probe (x UInt8) ENGINE = MergeTree ORDER BY x")
    ch.execute("INSERT INTO socialpulse.stack_probe VALUES", [(1,)])
    bi = stack.clickhouse(user="socialpulse_bi", password="socialpulse-bi-dev")
    assert bi.execute("SELECT count() FROM socialpulse.stack_probe") == [(1,)]
    with pytest.raises(ServerException) as readonly:
        bi.execute("INSERT INTO socialpulse.stack_probe VALUES", [(2,)])
    assert readonly.value.code == 164
    with pytest.raises(ServerException) as wrong:
        stack.clickhouse(user="socialpulse_bi", password="wrong").execute("SELECT 1")
    assert wrong.value.code in (193, 516)


def test_stack_stop_and_restart_single_services_keep_data(stack: Stack) -> None:
    topic = f"stack.restart.{int(time.time() * 1000)}"
    asyncio.run(_create_topic(stack.bootstrap, topic))
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    producer.send(topic, value=b"before-restart").get(timeout=30)
    producer.close()

    stack.run("stop", "clickhouse")
    assert stack.run("status", "clickhouse", check=False).returncode == 3
    stack.run("up", "clickhouse")
    assert stack.clickhouse().execute("SELECT count() FROM system.one") == [(1,)]

    old = stack.pid("kafka")
    stack.run("restart", "kafka")
    assert stack.pid("kafka") != old
    assert _first_message(stack.bootstrap, topic).value == b"before-restart"


def _first_message(bootstrap: str, topic: str):  # -> kafka ConsumerRecord
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=30000, group_id=f"g-{topic}")
    try:
        for message in consumer:
            return message
        pytest.fail(f"no message on {topic} within 30 s")
    finally:
        consumer.close()


async def _create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def test_stack_up_refuses_a_port_taken_by_another_process(stack: Stack) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = stack.run("up", "prometheus", check=False, SOCIALPULSE_PROMETHEUS_PORT=str(port))
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "already taken" in result.stderr


def test_stack_prometheus_starts_with_the_given_config_and_stops(stack: Stack, tmp_path: Path) -> None:
    port = stack.ports["SOCIALPULSE_PROMETHEUS_PORT"]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    stack.run("up", "prometheus", PROMETHEUS_CONFIG=str(config))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as resp:  # noqa: S310
        assert resp.status == 200
    stack.run("stop", "prometheus")
    assert stack.run("status", "prometheus", check=False).returncode == 3


def _mount_source(path: Path) -> tuple[str, str] | None:
    """(device, fstype) of the filesystem `path` is on."""
    out = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(path)],
                         capture_output=True, text=True, check=False).stdout.split()
    return (out[0], out[1]) if len(out) == 2 else None


def _has_journal(device: str) -> bool:
    return any(Path("/proc/fs/jbd2").glob(f"{Path(os.path.realpath(device)).name}-*"))


def _image_expected(home: Path) -> bool:
    """stack.sh's `auto` rule: ext4 without a journal, and root with loop devices."""
    source = _mount_source(home)
    return (os.geteuid() == 0 and Path("/dev/loop-control").exists() and shutil.which("mkfs.ext4") is not None
            and source is not None and source[1] == "ext4" and not _has_journal(source[0]))


# Last in the module: it deletes the ClickHouse data the tests above wrote.
def test_stack_moves_clickhouse_data_onto_a_journaled_image_where_the_filesystem_has_none(stack: Stack) -> None:
    if not _image_expected(stack.home):
        pytest.skip("the home's filesystem has a journal (or no root/loop devices): the data stays in place")
    data, image = stack.home / "clickhouse" / "data", stack.home / "clickhouse" / "data.ext4"
    stack.run("clean", "clickhouse")
    stack.run("up", "clickhouse", SOCIALPULSE_CLICKHOUSE_DATA_IMAGE="no")
    assert not os.path.ismount(data) and not image.exists()
    ch = stack.clickhouse()
    ch.execute("CREATE TABLE default.before_image (x UInt8) ENGINE = MergeTree ORDER BY x")
    ch.execute("INSERT INTO default.before_image VALUES", [(7,)])
    stack.run("stop", "clickhouse")

    up = stack.run("up", "clickhouse")  # auto: the data written so far moves into the image
    assert "journaled ext4 image" in up.stdout
    assert os.path.ismount(data)
    device, fstype = _mount_source(data) or ("", "")
    assert fstype == "ext4" and _has_journal(device)
    assert stack.clickhouse().execute("SELECT x FROM default.before_image") == [(7,)]
    assert "clickhouse data: journaled ext4 image" in stack.run("status").stdout

    stack.run("stop", "clickhouse")  # stopping unmounts: nothing stays mounted after `make down`
    assert not os.path.ismount(data) and not any(data.iterdir()) and image.exists()
    stack.run("up", "clickhouse")
    assert stack.clickhouse().execute("SELECT x FROM default.before_image") == [(7,)]
