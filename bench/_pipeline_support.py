"""Helpers for bench/bench_pipeline.py: fixed corpus, isolated pipelines on the local stack, worker processes,
ClickHouse polling and cleanup. No pytest here (tests/support.py fails tests; a benchmark reports instead)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from streams.settings import consumer_groups, settings_with_env, topic_names_env  # noqa: E402
from streams.workers import stop_processes, with_children  # noqa: E402

CORPUS_START = datetime(2026, 1, 1, tzinfo=UTC)
CORPUS_LANGS = (("en", 0.6), ("es", 0.4))


@dataclass(frozen=True)
class Corpus:
    """Encoded RawEvents, as `socialpulse replay` would produce them (key = event_id)."""

    keys: list[bytes]
    values: list[bytes]

    def __len__(self) -> int:
        return len(self.values)

    def event_ids(self, n: int | None = None) -> list[str]:
        return [k.decode() for k in self.keys[:n]]


def build_corpus(n: int, seed: int) -> Corpus:
    """n generated posts, EN/ES only, seeded; event ids are unique (checked)."""
    from streams.codec import encode_model
    from streams.sources.generator import Generator, GeneratorConfig

    gen = Generator(GeneratorConfig(start=CORPUS_START, seed=seed, rate_per_minute=600.0,
                                    language_weights=CORPUS_LANGS))
    keys: list[bytes] = []
    values: list[bytes] = []
    seen: set[str] = set()
    while len(keys) < n:
        event = gen.next().event
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        keys.append(event.event_id.encode())
        values.append(encode_model(event))
    return Corpus(keys, values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, KiB; with its children, the sum of their peaks."""
    total = None
    for one in with_children(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = (total or 0) + int(line.split()[1])
        except OSError:
            continue
    return total


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user+sys) of a live process and its children."""
    return sum(sum(thread_cpu_seconds(one).values()) for one in with_children(pid))


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user+sys) of a live process: its main thread (the asyncio event loop of a Faust worker)
    and all other threads together (asyncio.to_thread pool, aiokafka/kafka-python I/O threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"main thread": 0.0, "other threads": 0.0}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        out["main thread" if task.name == str(pid) else "other threads"] += cpu
    return out


# The local stack's home (deploy/local/stack.sh): its pid files and ClickHouse's data.
SP_HOME = Path(os.environ.get("SOCIALPULSE_HOME", REPO / ".local"))
# The server's per-database data directories (<path>/data/<database>/ in ClickHouse 18.16).
SERVER_DATABASES = SP_HOME / "clickhouse" / "data" / "data"


def service_pid(service: str) -> int | None:
    """The pid stack.sh recorded for a local service (kafka, clickhouse), if any."""
    try:
        return int((SP_HOME / "run" / f"{service}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def stack_cpu_seconds() -> float:
    """CPU seconds (user+sys, all threads) the local Kafka broker and ClickHouse server have used so far: they
    share the machine's cores with the workers, so the bench reports their CPU per event too."""
    pids = [pid for service in ("kafka", "clickhouse") if (pid := service_pid(service)) is not None]
    return sum(sum(thread_cpu_seconds(pid).values()) for pid in pids)

# A bench-only pseudo setting for variants (--enrich-variant, --pt-variant): the run's database's data goes in this
# directory, symlinked into the server's, so runs on two filesystems can alternate on one server.
DB_DIR_SETTING = "BENCH_CLICKHOUSE_DB_DIR"


def place_database(db: str, directory: Path) -> None:
    """Make `db`'s data directory a symlink to directory/db (before CREATE DATABASE: 18.16 takes a directory that
    already exists as the database's)."""
    target = directory.resolve() / db
    target.mkdir(parents=True)
    (SERVER_DATABASES / db).symlink_to(target)


def release_database(db: str, directory: Path) -> None:
    """After DROP DATABASE: the symlink and what is left behind it."""
    (SERVER_DATABASES / db).unlink(missing_ok=True)
    shutil.rmtree(directory.resolve() / db, ignore_errors=True)


@dataclass
class BenchPipeline:
    """One run's isolated pipeline: own topics, ClickHouse database, consumer group and worker processes."""

    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = REPO / ".local" / "bench"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    workers: list[subprocess.Popen] = field(default_factory=list)  # type: ignore[type-arg]
    db_dir: Path | None = None  # the database's data there instead of in the server's data directory

    def __post_init__(self) -> None:
        t = self.tag
        self.env = {
            **topic_names_env(f"bench.{t}"),
            "SOCIALPULSE_KAFKA__PARTITIONS": str(self.partitions),
            "SOCIALPULSE_CLICKHOUSE__DATABASE": f"sp_bench_{t}",
            "SOCIALPULSE_WORKER__APP_ID": f"sp-bench-{t}",
            **self.extra_env,
        }
        self.settings = settings_with_env(self.env)
        self.db = self.settings.clickhouse.database
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._ch = None

    # ------------------------------------------------------------------ setup / teardown
    def setup(self) -> None:
        from streams.kafka_admin import ensure_topics
        from streams.sinks.clickhouse.migrate import migrate

        ensure_topics(self.settings.kafka)
        if self.db_dir:
            place_database(self.db, self.db_dir)
        migrate(self.clickhouse(), self.db)

    def clickhouse(self):  # type: ignore[no-untyped-def]
        if self._ch is None:
            from streams.sinks.clickhouse.client import connect

            self._ch = connect(self.settings.clickhouse)
        return self._ch

    def cleanup(self) -> None:
        """Drop the database and delete every topic carrying this run's tag (Faust's internal ones too)."""
        self.stop_workers()
        try:
            self.clickhouse().execute(f"DROP DATABASE IF EXISTS {self.db}")
        except Exception as exc:  # noqa: BLE001 - best effort, reported
            print(f"  cleanup: drop database {self.db} failed: {exc}", file=sys.stderr)
        if self.db_dir:
            release_database(self.db, self.db_dir)
        delete_topics_containing(self.settings.kafka.bootstrap_servers, self.tag)
        delete_groups_containing(self.settings.kafka.bootstrap_servers, self.tag)
        if self._ch is not None:
            self._ch.disconnect()
            self._ch = None

    # ------------------------------------------------------------------ producing
    def produce(self, corpus: Corpus, n: int, *, start: int = 0) -> float:
        """Send corpus[start:start+n] to the raw topic; returns events/s until the broker acked them all."""
        from streams.sources.replay import make_producer

        producer = make_producer(self.settings.kafka.bootstrap_servers)
        topic = self.settings.kafka.raw_topic
        t0 = time.monotonic()
        try:
            futures = [producer.send(topic, value=corpus.values[i], key=corpus.keys[i])
                       for i in range(start, start + n)]
            producer.flush(timeout=120)
            failed = sum(1 for f in futures if f.failed())
            if failed:
                raise RuntimeError(f"{failed} of {n} sends failed: {futures[0].exception!r}")
        finally:
            producer.close(timeout=10)
        return n / (time.monotonic() - t0)

    # ------------------------------------------------------------------ workers
    def start_worker(self, *, enrich: bool = True, command: Sequence[str] | None = None,
                     env: dict[str, str] | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
        index = len(self.workers)
        child_env = {**os.environ, **self.env, **(env or {}),
                     "SOCIALPULSE_WORKER__WEB_PORT": str(free_port()),
                     "SOCIALPULSE_WORKER__DATA_DIR": str(self.log_dir / f"{self.tag}-worker-{index}"),
                     "SOCIALPULSE_WORKER__ENRICH": "true" if enrich else "false"}
        cmd = list(command or [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"])
        log = (self.log_dir / f"{self.tag}-worker-{index}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=child_env, cwd=REPO)
        self.workers.append(proc)
        return proc

    def worker_log(self, index: int) -> str:
        return (self.log_dir / f"{self.tag}-worker-{index}.log").read_text(errors="replace")[-3000:]

    def check_workers(self) -> None:
        for i, proc in enumerate(self.workers):
            if proc.poll() is not None:
                raise RuntimeError(f"worker {i} exited with {proc.returncode}:\n{self.worker_log(i)}")

    def stop_workers(self) -> None:
        stop_processes(self.workers)
        self.workers.clear()

    # ------------------------------------------------------------------ ClickHouse
    def distinct_events(self) -> int:
        (value,), = self.clickhouse().execute(f"SELECT uniqExact(event_id) FROM {self.db}.events")
        return int(value)

    def stored_rows(self) -> int:
        """Rows in the events table, duplicates included: an upper bound of distinct_events, ~10x cheaper."""
        (value,), = self.clickhouse().execute(f"SELECT count() FROM {self.db}.events")
        return int(value)

    def wait_rows(self, expected: int, *, timeout: float, poll: float = 0.1,
                  on_poll: Callable[[], None] | None = None) -> RowTimeline:
        """Poll every `poll` s until uniqExact(event_id) reaches `expected`; first-row and done times.

        Polls count() until it reaches `expected` and uniqExact(event_id) only from then on: the distinct count
        cannot be there before, and uniqExact over the growing table, ten times a second, took ClickHouse CPU
        from the pipeline it measures (17 vs 1.6 ms a query at 100k rows)."""
        started = time.monotonic()
        deadline = started + timeout
        first: tuple[float, int] | None = None
        value = 0
        samples: list[tuple[float, int]] = []
        while True:
            now = time.monotonic()
            value = self.stored_rows()
            samples.append((now, value))
            if value >= expected or (value > 0 and first is None):  # the rows the rates count are distinct
                value = self.distinct_events()
            if value > 0 and first is None:
                first = (now, value)
                if on_poll is not None:
                    on_poll()
            if value >= expected:
                assert first is not None
                return RowTimeline(started=started, first_at=first[0], first_rows=first[1], done_at=now,
                                   rows=value, samples=tuple(samples))
            if now > deadline:
                raise TimeoutError(f"{self.db}.events has {value} of {expected} events after {timeout:.0f}s")
            self.check_workers()
            time.sleep(poll)

    def group_members(self) -> int | None:
        try:
            from kafka import KafkaAdminClient

            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_servers,
                                     client_id="sp-bench-admin")
            try:
                # the fewest members over the hot stages' groups (each worker joins them one after the other; an
                # older checkout's worker, --baseline-tree, may not have the others)
                kafka = self.settings.kafka
                stage_groups = consumer_groups(self.settings)
                groups = sorted({stage_groups[kafka.raw_topic], stage_groups[kafka.enriched_topic]})
                described = admin.describe_groups(groups)
                return min(len(described[g]["members"]) if described[g]["group_state"] == "Stable" else 0
                           for g in groups)
            finally:
                admin.close()
        except Exception:  # noqa: BLE001 - informative only
            return None


@dataclass(frozen=True)
class RowTimeline:
    started: float  # when polling started (= right after the workers were started)
    first_at: float  # first poll that saw a row
    first_rows: int
    done_at: float
    rows: int
    samples: tuple[tuple[float, int], ...] = ()  # (time, rows stored) at every poll

    @property
    def steady_rate(self) -> float:
        """events/s from the first row to all rows: excludes start-up, model load and the first batch."""
        return (self.rows - self.first_rows) / max(self.done_at - self.first_at, 1e-9)

    def middle_rate(self, low: float = 0.1, high: float = 0.9) -> float | None:
        """events/s while the rows stored went from `low` to `high` of those the run added: the pipeline's pace
        without its start and its tail (the last rows wait up to a sink window plus an insert after the NLP has
        finished, a fixed ~1-1.5 s that steady_rate spreads over the run). Rows arrive in insert-sized steps:
        the rate is taken between the first polls that saw each mark, both just after a step."""
        def first_poll_with(rows: float) -> tuple[float, int] | None:
            return next(((t, n) for t, n in self.samples if t >= self.first_at and n >= rows), None)

        added = self.rows - self.first_rows
        start, end = first_poll_with(self.first_rows + low * added), first_poll_with(self.first_rows + high * added)
        if start is None or end is None or end[0] <= start[0]:
            return None
        return (end[1] - start[1]) / (end[0] - start[0])

    @property
    def wall_rate(self) -> float:
        """events/s from worker start to all rows (start-up included)."""
        return self.rows / max(self.done_at - self.started, 1e-9)

    @property
    def warmup(self) -> float:
        return self.first_at - self.started


def delete_topics_containing(bootstrap: str, marker: str) -> list[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sp-bench-admin")
    try:
        names = [t for t in admin.list_topics() if marker in t]
        if names:
            try:
                admin.delete_topics(names, timeout_ms=30_000)
            except Exception as exc:  # noqa: BLE001 - best effort, reported
                print(f"  cleanup: delete topics {names} failed: {exc}", file=sys.stderr)
        return names
    finally:
        admin.close()


def delete_groups_containing(bootstrap: str, marker: str) -> list[str]:
    """Delete the (by now empty) consumer groups of a run: the workers' and the Kafka engine's."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sp-bench-admin")
    try:
        names = [g["group_id"] for g in admin.list_groups() if marker in g["group_id"]]
        if names:
            try:
                admin.delete_groups(names)
            except Exception as exc:  # noqa: BLE001 - best effort, reported
                print(f"  cleanup: delete groups {names} failed: {exc}", file=sys.stderr)
        return names
    finally:
        admin.close()
