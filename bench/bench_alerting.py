"""Spike alerting over all workers (issue 19): what it costs the ClickHouse sink, what it puts on social.counts.v1,
and how long after its minute a spike's alert appears.

1. `cpu`: the sink's post-insert step on the same stored batches, each side in a subprocess of its own:
   - before: the base commit's (`--base-tree`, a `git worktree` of 75216f3) `alerting_stage(...).observe(stored)`,
     the per-worker in-memory detector (alerts go to a no-op send and an in-memory writer);
   - after: this tree's `CountsStage.after_stored(records, stored)` with its message encoding (no-op send,
     `no_earlier_copies`);
   - after + ClickHouse: the same with the real `EarlierCopies` query against a table filled with the same events
     (event-loop CPU, process CPU and wall time reported apart: the query runs in a thread, mostly in ClickHouse).
   Stored events: generated posts (seeded, a negative spike on Nimbus included) enriched once with the real models
   and cached (`.local/bench/alerting-corpus-*.tsv`), decoded with `streams.codec.read_enriched` before timing.
   Each side first takes `--history-minutes` of history (copies of the corpus's baseline posts, placed before it),
   untimed, so the old detector has the 10 minutes a subject needs before it may alert and alerts on the spike in
   the timed part. `time.process_time()` around each call only. Sides alternate within a rep.
2. `size` (from the `after` runs): key + value bytes and messages on the counts topic per 1,000 stored posts.
3. `latency`: the real stack, 1 and 2 workers at half the enrich pipeline's max rate (measured here first, or
   `--max-rate`): ~12 minutes of history as backlog, then posts in real time with a negative Nimbus spike
   (factor 8) from a minute boundary; latency = the alert message's Kafka timestamp - its minute's window_end.
   The backlog goes, already enriched (the cached corpus, re-stamped), to the enriched topic: through the NLP it
   would take the workers twice its duration (they run at 2x the stream's rate), and the detector needs only the
   sink's counts of it. The live posts go to the raw topic and through the whole pipeline.

    .venv/bin/python bench/bench_alerting.py --help
    .venv/bin/python bench/bench_alerting.py --reps 5 --write             # all three, ~25 min
    .venv/bin/python bench/bench_alerting.py --only cpu,size --reps 5
    .venv/bin/python bench/bench_alerting.py --only latency --max-rate 1=792,2=1780
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / ".local" / "bench"
SECTION = "Alerting over all workers (issue 19)"
SIDES = ("before", "after", "after-ch", "after-ch-mqs")
CH_SIDES = ("after-ch", "after-ch-mqs")  # with EarlierCopies: the pipeline's connection; max_query_size raised
BIG_QUERY_BYTES = 16 * 1024 * 1024  # after-ch-mqs: ClickHouse's max_query_size (default 262,144) for the bench
PARTITIONS = 4
CORPUS_T0 = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)  # the timed corpus starts on a minute; its history before it
CORPUS_LANGS = (("en", 0.6), ("es", 0.4))
MIN_LEAD = timedelta(seconds=30)
SPIKE_TERM, SPIKE_FACTOR = "Nimbus", 8.0
LATENCY_ENV = "SOCIALPULSE_CLICKHOUSE__INSERT_BATCH_ROWS=4000"
LATENESS = timedelta(seconds=30)  # WORKER__SPIKE_LATENESS_SECONDS, the default
CAUGHT_UP_VALID = timedelta(seconds=15)  # streams.stages.alerts.WatermarkConfig


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def med(xs: Iterable[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def percentile(xs: Sequence[float], q: float) -> float:
    """Nearest rank (the bench's convention: bench_pipeline's latency p99)."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def rate_pairs(spec: str) -> dict[int, float]:
    """'1=792,2=1780' → {1: 792.0, 2: 1780.0}."""
    out: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        workers, _, rate = part.partition("=")
        if not rate or int(workers) < 1 or float(rate) <= 0:
            raise argparse.ArgumentTypeError(f"--max-rate wants WORKERS=EV_PER_S[,...], got {part!r}")
        out[int(workers)] = float(rate)
    return out


def env_pairs(spec: str) -> dict[str, str]:
    """'A=1,B=2' → {'A': '1', 'B': '2'} ('' → {})."""
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"KEY=VALUE[,...] wanted, got {part!r}")
        out[key] = value
    return out


def int_list(spec: str) -> list[int]:
    values = [int(x) for x in spec.split(",") if x.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"a comma-separated list of positive integers, got {spec!r}")
    return values


def ceil_minute(moment: datetime) -> datetime:
    """The first minute boundary at or after `moment`."""
    ts = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(ts / 60) * 60, tz=UTC)


def history_copies(span_seconds: float, history_seconds: float) -> int:
    """How many copies of a baseline stream of `span_seconds` cover `history_seconds` before it."""
    return max(1, math.ceil(history_seconds / span_seconds))


# ---------------------------------------------------------------------------- the stored stream (both trees)
#
# Runs in the parent and in the side subprocesses, with whichever tree's `streams` is first on sys.path: only
# msgspec and the decoded mirror structs (schemas/fast.py, the same in both trees) are used here.


def restamped(event: Any, created: datetime, tag: str) -> Any:
    """A copy of a decoded EnrichedEvent created at `created`, with its own id (`<native id>-<tag>`); ingest and
    enrich times keep their distance from created_at."""
    import msgspec

    raw = event.event
    native = f"{raw.native_id}-{tag}"
    new_raw = msgspec.structs.replace(raw, created_at=created, ingested_at=created + (raw.ingested_at - raw.created_at),
                                      native_id=native, event_id=f"{raw.network.value}:{native}")
    return msgspec.structs.replace(event, event=new_raw, enriched_at=created + timedelta(seconds=1))


@dataclass(frozen=True)
class Pool:
    """Baseline posts (no spike posts) to lay out at any rate: their arrival times are kept, scaled."""

    events: list[Any]  # decoded EnrichedEvents, by created_at
    first: datetime
    span: float  # seconds one pass covers at the pool's own rate

    @classmethod
    def of(cls, events: Sequence[Any]) -> Pool:
        ordered = sorted(events, key=lambda e: e.event.created_at)
        first, last = ordered[0].event.created_at, ordered[-1].event.created_at
        gap = (last - first).total_seconds() / max(len(ordered) - 1, 1)
        return cls(ordered, first, (last - first).total_seconds() + gap)

    @property
    def rate(self) -> float:
        return len(self.events) / self.span

    def laid_out(self, start: datetime, end: datetime, rate: float, tag: str) -> Iterator[Any]:
        """Copies of the pool from `start` to `end` at `rate` posts/s, ids tagged `<tag><copy>`."""
        scale = self.rate / rate
        copy = 0
        while True:
            base = start + timedelta(seconds=copy * self.span * scale)
            for e in self.events:
                at = base + (e.event.created_at - self.first) * scale
                if at >= end:
                    return
                yield restamped(e, at, f"{tag}{copy}")
            copy += 1


def sink_stream(timed: Sequence[Any], partitions: Sequence[int], spike: Sequence[bool], history_minutes: float
                ) -> tuple[list[tuple[int, int, Any]], list[tuple[int, int, Any]]]:
    """(history, timed) as the sink stores them: (partition, offset, event). The history is copies of the timed
    corpus's baseline posts before it, each keeping its original's partition; offsets run on per partition."""
    baseline = [(p, e) for p, e, s in zip(partitions, timed, spike, strict=True) if not s]
    pool = Pool.of([e for _, e in baseline])
    partition_of = {id(e): p for p, e in baseline}
    copies = history_copies(pool.span, history_minutes * 60)
    start = pool.first - timedelta(seconds=copies * pool.span)
    offsets = [0] * (max(partitions) + 1)
    history: list[tuple[int, int, Any]] = []
    for copy in range(copies):
        base = start + timedelta(seconds=copy * pool.span)
        for e in pool.events:
            p = partition_of[id(e)]
            history.append((p, offsets[p], restamped(e, base + (e.event.created_at - pool.first), f"h{copy}")))
            offsets[p] += 1
    stream: list[tuple[int, int, Any]] = []
    for p, e in zip(partitions, timed, strict=True):
        stream.append((p, offsets[p], e))
        offsets[p] += 1
    return history, stream


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def read_cache(path: Path) -> tuple[list[int], list[bool], list[bytes]]:
    partitions, spike, values = [], [], []
    with path.open("rb") as fh:
        for line in fh:
            p, s, v = line.rstrip(b"\n").split(b"\t", 2)
            partitions.append(int(p))
            spike.append(s == b"1")
            values.append(v)
    return partitions, spike, values


# ---------------------------------------------------------------------------- 1. a side, in its own subprocess


def side_main(args: argparse.Namespace) -> int:
    """One side on one batch size; prints one JSON line. sys.path[0] is the side's tree (see the end of file)."""
    from streams.runtime.process_tuning import tune_gc
    from streams.settings import Settings

    settings = Settings()
    tune_gc(settings.worker.gc_threshold)  # as in a worker
    from processors.brand_queries import load_brand_queries
    from streams import codec
    from streams.metrics import Metrics
    from streams.runtime.failure_policy import RetryPolicy

    partitions, spike, values = read_cache(Path(args.cache))
    timed = [codec.read_enriched(v) for v in values]
    history, stream = sink_stream(timed, partitions, spike, args.history_minutes)
    brand_queries = load_brand_queries(settings.nlp.brand_queries_path).names()
    metrics = Metrics.create()
    policy = RetryPolicy()
    sent = {"messages": 0, "bytes": 0, "alerts": 0, "counting": False}

    def utcnow() -> datetime:
        return datetime.now(UTC)

    async def send(messages: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        if sent["counting"]:
            sent["messages"] += len(messages)
            sent["bytes"] += sum(len(k or b"") + len(v) for _, k, v in messages)

    if args.side == "before":
        from streams.sinks.clickhouse.writer import InMemoryWriter
        from streams.stages.alerts import alerting_stage

        writer = InMemoryWriter()
        stage = alerting_stage(brand_queries=brand_queries, writer=writer, table="alerts", send=send,
                               alerts_topic="alerts", policy=policy, metrics=metrics, clock=utcnow)

        def call_args(batch: Sequence[tuple[int, int, Any]]) -> tuple[Any, ...]:
            return ([(p, e) for p, _, e in batch],)

        call = stage.observe
    else:
        from streams.runtime.records import Record
        from streams.stages.counts import CountsStage, no_earlier_copies

        stage = CountsStage(brand_queries, "counts", "enriched", PARTITIONS, send, no_earlier_copies, policy,
                            metrics, utcnow)

        def call_args(batch: Sequence[tuple[int, int, Any]]) -> tuple[Any, ...]:
            return ([Record("enriched", p, o, e.event_id.encode(), None) for p, o, e in batch], list(batch))

        call = stage.after_stored

    # Untimed: the old detector's history (its state: the 10 minutes a subject needs before it may alert). The
    # counts stage keeps no history (the latest event time per partition): one copy warms it up.
    warm = history if args.side == "before" else history[-sum(1 for s in spike if not s):]

    async def run() -> dict[str, Any]:
        for batch in batches(warm, args.batch):
            await call(*call_args(batch))
        if args.side in CH_SIDES:
            from streams.sinks.clickhouse.client import connect
            from streams.sinks.clickhouse.earlier import EarlierCopies

            ch = settings.clickhouse

            def client() -> Any:
                conn = connect(ch, database=args.db)  # the worker's connection (streams/app.py:default_wiring)
                if args.side == "after-ch-mqs":
                    conn.settings["max_query_size"] = BIG_QUERY_BYTES
                return conn

            stage.find_earlier = EarlierCopies(client, f"{args.db}.events")
            p, o, e = history[-1]
            await stage.find_earlier([(e.event_id, p, o, e.event.created_at)])  # connect, start the thread, untimed
        alerts_before = len(writer.tables.get("alerts", [])) if args.side == "before" else 0
        sent["counting"] = True
        gc.collect()
        cpu = wall = loop_cpu = 0.0
        calls = 0
        server0 = clickhouse_cpu_seconds() if args.side in CH_SIDES else None
        for batch in batches(stream, args.batch):
            prepared = call_args(batch)
            c0, t0, l0 = time.process_time(), time.perf_counter(), time.thread_time()
            await call(*prepared)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - t0
            loop_cpu += time.thread_time() - l0
            calls += 1
        server = clickhouse_cpu_seconds() - server0 if server0 is not None else None
        alerts = (len(writer.tables.get("alerts", [])) - alerts_before) if args.side == "before" else None
        return {"side": args.side, "batch": args.batch, "events": len(stream), "warm_up_events": len(warm),
                "calls": calls, "cpu_s": cpu, "wall_s": wall, "loop_cpu_s": loop_cpu, "server_cpu_s": server,
                "messages": sent["messages"], "bytes": sent["bytes"], "alerts": alerts,
                "lost_batches": lost.count, "lost_reason": lost.reason,
                "streams_from": str(Path(codec.__file__).resolve().parents[1])}

    lost = LostBatches()
    logging.getLogger("streams.stages.counts").addHandler(lost)
    gc.collect()
    gc.freeze()  # the decoded stream stays out of the collector's walks, as a worker's heap of models does
    result = asyncio.run(run())
    print(json.dumps(result), flush=True)
    return 0


class LostBatches(logging.Handler):
    """Counts the counts stage's "a batch of N events not counted" errors (after the policy's attempts)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count, self.reason = 0, ""

    def emit(self, record: logging.LogRecord) -> None:
        if "not counted" in record.getMessage():
            self.count += 1
            self.reason = record.getMessage()[:300]


def clickhouse_cpu_seconds() -> float:
    """CPU seconds (user+sys) of the local ClickHouse server so far (deploy/local/stack.sh's pid file)."""
    home = Path(os.environ.get("SOCIALPULSE_HOME", REPO / ".local"))
    try:
        pid = int((home / "run" / "clickhouse.pid").read_text().strip())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- 1. + 2. the parent


def corpus_path(args: argparse.Namespace) -> Path:
    return OUT_DIR / (f"alerting-corpus-s{args.seed}-r{args.corpus_rate}-t{args.corpus_seconds}"
                      f"-spike{args.spike_at}+{args.spike_seconds}.tsv")


def build_corpus(args: argparse.Namespace) -> Path:
    """Generated posts (EN/ES, seeded, a negative Nimbus spike), enriched once with the real models; cached as
    `partition TAB spike-post TAB encoded EnrichedEvent` lines."""
    path = corpus_path(args)
    if path.exists():
        return path
    from processors.enrich import EnrichedEvent, enrich_batch
    from processors.models import load_models
    from streams import codec
    from streams.runtime.partitioner import partition_of
    from streams.settings import Settings
    from streams.sources.generator import Generator, GeneratorConfig, Spike

    t0 = time.monotonic()
    spike = Spike(at=CORPUS_T0 + timedelta(seconds=args.spike_at), term=SPIKE_TERM, factor=SPIKE_FACTOR,
                  duration=timedelta(seconds=args.spike_seconds), negative=True)
    gen = Generator(GeneratorConfig(start=CORPUS_T0, seed=args.seed, rate_per_minute=float(args.corpus_rate),
                                    spikes=(spike,), language_weights=CORPUS_LANGS))
    end = CORPUS_T0 + timedelta(seconds=args.corpus_seconds)
    posts, seen = [], set()
    for post in gen:
        if post.event.created_at >= end:
            break
        if post.event.event_id not in seen:
            seen.add(post.event.event_id)
            posts.append(post)
    log(f"corpus: {len(posts)} posts generated in {time.monotonic() - t0:.0f}s; enriching with the real models")
    nlp = Settings().nlp
    models = load_models(profile=nlp.profile, brand_queries_path=nlp.brand_queries_path, languages=nlp.languages)
    lines, failed = [], 0
    for chunk in batches(posts, 256):
        now = chunk[-1].event.ingested_at + timedelta(seconds=1)
        for post, out in zip(chunk, enrich_batch([p.event for p in chunk], models, now=now), strict=True):
            if not isinstance(out, EnrichedEvent):
                failed += 1
                continue
            value = codec.encode_model(out)
            p = partition_of(out.event_id.encode(), PARTITIONS)
            lines.append(f"{p}\t{int(post.spike is not None)}\t".encode() + value + b"\n")
    if failed:
        log(f"corpus: {failed} posts failed enrichment and are left out")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(lines))
    tmp.replace(path)
    log(f"corpus: {len(lines)} enriched events in {time.monotonic() - t0:.0f}s → {path}")
    return path


def run_side(args: argparse.Namespace, side: str, batch: int, cache: Path, db: str | None) -> dict[str, Any]:
    tree = Path(args.base_tree).resolve() if side == "before" else REPO
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--tree", str(tree), "--cache", str(cache),
           "--batch", str(batch), "--history-minutes", str(args.history_minutes)]
    if db:
        cmd += ["--db", db]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"side {side} batch {batch} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    us = result["cpu_s"] / result["events"] * 1e6
    n = result["events"]
    extra = (f"  loop {result['loop_cpu_s'] / n * 1e6:6.2f} µs  wall {result['wall_s'] / n * 1e6:6.2f} µs  "
             f"server {result['server_cpu_s'] / n * 1e6:5.1f} µs  lost batches {result['lost_batches']}"
             if side in CH_SIDES else "")
    log(f"  {side:<9} batch {batch:>6}: {us:6.2f} µs CPU/event over {result['events']} events, {result['calls']} calls"
        f"{extra}" + (f"  alerts {result['alerts']}" if side == "before" else
                      f"  {result['messages']} msgs {result['bytes']} B"))
    return result


def fill_events_table(args: argparse.Namespace, cache: Path, db: str) -> int:
    """<db>.events with the rows the sink would have stored for the history and the timed stream."""
    from streams import codec
    from streams.settings import Settings
    from streams.sinks.clickhouse.client import connect
    from streams.sinks.clickhouse.migrate import migrate
    from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row

    client = connect(Settings().clickhouse)
    migrate(client, db)
    partitions, spike, values = read_cache(cache)
    history, stream = sink_stream([codec.read_enriched(v) for v in values], partitions, spike, args.history_minutes)
    rows = [event_row(e, partition=p, offset=o) for p, o, e in (*history, *stream)]
    sql = f"INSERT INTO {db}.events ({', '.join(EVENT_COLUMNS)}) VALUES"
    for chunk in batches(rows, 50_000):
        client.execute(sql, list(chunk))
    deadline = time.monotonic() + 120  # let the inserts' merges finish: their CPU is not the queries'
    while time.monotonic() < deadline:
        (busy,), = client.execute(f"SELECT count() FROM system.merges WHERE database = '{db}'")
        if not busy:
            break
        time.sleep(1)
    client.disconnect()
    return len(rows)


def drop_database(db: str) -> None:
    from streams.settings import Settings
    from streams.sinks.clickhouse.client import connect

    client = connect(Settings().clickhouse)
    client.execute(f"DROP DATABASE IF EXISTS {db}")
    client.disconnect()


def exp_cpu(args: argparse.Namespace) -> dict[str, Any]:
    cache = build_corpus(args)
    db = f"sp_bench_alerting_{os.getpid()}" if args.clickhouse_earlier else None
    out: dict[str, Any] = {"cache": str(cache), "runs": []}
    try:
        if db:
            t0 = time.monotonic()
            out["table_rows"] = fill_events_table(args, cache, db)
            log(f"cpu: {db}.events filled with {out['table_rows']} rows in {time.monotonic() - t0:.0f}s")
        for rep in range(args.reps):
            log(f"cpu rep {rep + 1}/{args.reps}")
            for batch in args.batches:
                sides = [s for s in SIDES if s not in CH_SIDES or args.clickhouse_earlier]
                if batch not in args.mqs_batches:
                    sides.remove("after-ch-mqs") if "after-ch-mqs" in sides else None
                for side in sides if rep % 2 == 0 else sides[::-1]:
                    out["runs"].append(run_side(args, side, batch, cache, db) | {"rep": rep})
    finally:
        if db:
            drop_database(db)
    out["summary"] = cpu_summary(out["runs"], args.batches)
    return out


def cpu_summary(runs: list[dict[str, Any]], batch_sizes: Sequence[int]) -> dict[str, Any]:
    """Per batch size: µs per event of each side (median over reps), after/before ratios taken within a rep."""
    summary: dict[str, Any] = {}
    for batch in batch_sizes:
        by = {side: {r["rep"]: r for r in runs if r["side"] == side and r["batch"] == batch} for side in SIDES}
        row: dict[str, Any] = {}
        for side, reps in by.items():
            if not reps:
                continue
            row[side] = {"us_per_event": med(r["cpu_s"] / r["events"] * 1e6 for r in reps.values()),
                         "all": [round(r["cpu_s"] / r["events"] * 1e6, 3) for r in reps.values()]}
            if side in CH_SIDES:
                for key in ("loop_cpu", "wall", "server_cpu"):
                    row[side][f"{key}_us_per_event"] = med(
                        r[f"{key}_s"] / r["events"] * 1e6 for r in reps.values() if r[f"{key}_s"] is not None)
                row[side]["lost_batches"] = [r["lost_batches"] for r in reps.values()]
                row[side]["calls"] = next(iter(reps.values()))["calls"]
                row[side]["lost_reason"] = next((r["lost_reason"] for r in reps.values() if r["lost_reason"]), "")
        for side in ("after", *CH_SIDES):
            if by["before"] and by[side]:
                ratios = [by[side][k]["cpu_s"] / by["before"][k]["cpu_s"] for k in by["before"] if k in by[side]]
                row[f"{side}/before"] = {"median": med(ratios), "all": [round(x, 3) for x in ratios]}
        if by["after"]:
            r = next(iter(by["after"].values()))
            row["size"] = {"events": r["events"], "messages": r["messages"], "bytes": r["bytes"],
                           "bytes_per_1000_posts": r["bytes"] / r["events"] * 1000,
                           "messages_per_1000_posts": r["messages"] / r["events"] * 1000,
                           "bytes_per_message": r["bytes"] / max(r["messages"], 1)}
        if by["before"]:
            row["before_alerts"] = [r["alerts"] for r in by["before"].values()]
        summary[str(batch)] = row
    return summary


# ---------------------------------------------------------------------------- 3. latency on the real stack


def wait_ready(pipe: Any, workers: int, timeout: float = 240.0) -> float:
    """Until the stage groups and Faust's group (the spike-detector and incidents agents) are stable with every
    worker in them; returns the seconds it took."""
    from kafka import KafkaAdminClient

    t0 = time.monotonic()
    admin = KafkaAdminClient(bootstrap_servers=pipe.settings.kafka.bootstrap_servers, client_id="sp-bench-admin")
    try:
        while True:
            pipe.check_workers()
            stages = pipe.group_members() or 0
            group = admin.describe_groups([pipe.settings.worker.app_id])[pipe.settings.worker.app_id]
            members = len(group["members"]) if group["group_state"] == "Stable" else 0
            if stages >= workers and members >= workers:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"workers not ready after {timeout:.0f}s: stage groups {stages}, Faust {members}")
            time.sleep(1.0)
    finally:
        admin.close()


def kcat_send(pipe: Any, topic: str, lines: list[bytes]) -> None:
    """key TAB value lines with kcat (lz4, acks=all), keys partitioned by murmur2 as the pipeline's producers do."""
    subprocess.run(["kcat", "-P", "-b", pipe.settings.kafka.bootstrap_servers, "-t", topic, "-K", "\t",
                    "-z", "lz4", "-X", "acks=all", "-X", "linger.ms=20", "-X", "partitioner=murmur2_random"],
                   input=b"".join(lines), check=True, timeout=600)


def backlog_lines(pool: Pool, start: datetime, end: datetime, rate: float, tag: str) -> list[bytes]:
    import msgspec

    return [e.event.event_id.encode() + b"\t" + msgspec.json.encode(e) + b"\n"
            for e in pool.laid_out(start, end, rate, tag)]


def wait_stored(pipe: Any, rows: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (stored := pipe.stored_rows()) < rows:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stored} of {rows} backlog rows stored after {timeout:.0f}s")
        pipe.check_workers()
        time.sleep(0.5)


def live_posts(pool: Pool, spike_pool: Pool, *, first: datetime, spike_start: datetime, spike: timedelta,
               end: datetime, rate: float) -> list[Any]:
    """Raw posts to send live: the baseline pool at `rate` from `first` to `end`, plus the corpus's spike posts from
    `spike_start` for `spike` at the generator's spike rate ((factor - 1) x rate x the term's share). Their authors,
    entities and hashtags are the history's. Each text gets a unique short link appended, so the NLP cache of the
    worker never answers for a repeated text (it enriches every post: 1,485 of 1,500 sampled came out identical,
    the rest differing in one entity or the sentiment label)."""
    import msgspec

    from streams.sources.generator import term_share

    extra = (SPIKE_FACTOR - 1) * rate * term_share(SPIKE_TERM)
    merged = sorted([*pool.laid_out(first, end, rate, "l"), *spike_pool.laid_out(spike_start, spike_start + spike,
                                                                                  extra, "s")],
                    key=lambda e: e.event.created_at)
    return [msgspec.structs.replace(e.event, text=f"{e.event.text} https://t.co/{i:010x}")
            for i, e in enumerate(merged)]


async def live_send(pipe: Any, posts: Sequence[Any]) -> tuple[float, int]:
    """Each raw post to the raw topic when the wall clock reaches its created_at, through the pipeline's batch
    producer (kafka-python's send() costs ~15 µs a message); returns (seconds, posts sent)."""
    import msgspec

    from streams.runtime.producer import BatchProducer, acknowledged

    producer = BatchProducer(pipe.settings.kafka, client_id="sp-bench-alerting",
                             max_message_bytes=pipe.settings.kafka.max_message_bytes)
    await producer.start()
    try:
        topic, pending, i, t0 = pipe.settings.kafka.raw_topic, [], 0, time.monotonic()
        while i < len(posts):
            now = datetime.now(UTC)
            batch = []
            while i < len(posts) and posts[i].created_at <= now:
                batch.append((topic, posts[i].event_id.encode(), msgspec.json.encode(posts[i])))
                i += 1
            if batch:
                pending += await producer.enqueue(batch)
            await asyncio.sleep(0.005)
        await acknowledged(pending)
        return time.monotonic() - t0, i
    finally:
        await producer.stop()


def stage_lags(pipe: Any) -> Any:
    """A function giving the messages each consumer is behind on its topic: the enrich stage (raw topic), the sink
    (enriched topic) and Faust's agent (counts topic)."""
    from kafka import KafkaAdminClient, KafkaConsumer

    from streams.settings import consumer_groups

    kafka = pipe.settings.kafka
    groups = consumer_groups(pipe.settings)
    watched = {"enrich": (kafka.raw_topic, groups[kafka.raw_topic]),
               "sink": (kafka.enriched_topic, groups[kafka.enriched_topic]),
               "detector": (kafka.counts_topic, pipe.settings.worker.app_id)}
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id="sp-bench-lags")
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None)

    def lags() -> dict[str, int]:
        out = {}
        for name, (topic, group) in watched.items():
            try:
                committed = {tp: o.offset for tp, o in admin.list_group_offsets(group).get(group, {}).items()
                             if tp.topic == topic}
                ends = consumer.end_offsets(list(committed))
                out[name] = sum(ends[tp] - committed[tp] for tp in committed)
            except Exception:  # noqa: BLE001 - informative only
                out[name] = -1
        return out

    return lags


def topic_bytes(tag: str) -> dict[str, int]:
    """Bytes on the local broker's disk per topic carrying `tag` (the run's topics, Faust's changelogs too)."""
    data = Path(os.environ.get("SOCIALPULSE_HOME", REPO / ".local")) / "kafka" / "data"
    out: dict[str, int] = {}
    for d in data.glob(f"*{tag}*"):
        topic = d.name.rsplit("-", 1)[0]
        out[topic] = out.get(topic, 0) + sum(f.stat().st_size for f in d.iterdir() if f.suffix == ".log")
    return dict(sorted(out.items()))


class CpuSampler:
    """Every `every` s, the cores each worker's event-loop thread, its other threads and its NLP process used since
    the last sample (from /proc): which of them saturates when the stored stream falls behind."""

    def __init__(self, pids: Sequence[int], every: float = 10.0, lags: Any = None) -> None:
        self.pids, self.every, self.lags = list(pids), every, lags
        self.samples: list[dict[str, Any]] = []
        self._stop: Any = None
        self._thread: Any = None

    def _read(self) -> list[tuple[float, float, float]]:
        from bench._pipeline_support import process_cpu_seconds, thread_cpu_seconds

        out = []
        for pid in self.pids:
            threads = thread_cpu_seconds(pid)
            out.append((threads["main thread"], threads["other threads"],
                        process_cpu_seconds(pid) - sum(threads.values())))
        return out

    def start(self) -> None:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0, last = time.monotonic(), self._read()
        prev = t0
        while not self._stop.wait(self.every):
            now, current = time.monotonic(), self._read()
            span = now - prev
            self.samples.append({"t": round(now - t0, 1), "lags": self.lags() if self.lags else None, "workers": [
                {"loop": round((c[0] - p[0]) / span, 2), "threads": round((c[1] - p[1]) / span, 2),
                 "nlp": round((c[2] - p[2]) / span, 2)} for c, p in zip(current, last, strict=True)]})
            prev, last = now, current

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.samples


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                             consumer_timeout_ms=3000, enable_auto_commit=False)
    try:
        return list(consumer)
    finally:
        consumer.close()


def closing_times(counts_messages: Sequence[Any], partitions: int) -> dict[int, list[tuple[float, datetime, datetime]]]:
    """Per counts partition, the detector's watermark after each message with progress, replayed with its pure
    functions: (message timestamp, watermark, event time of the slowest source partition that holds it back)."""
    from processors.spike_merge import Clock, advance_clock, watermark
    from streams import codec

    out: dict[int, list[tuple[float, datetime, datetime]]] = {}
    clocks: dict[int, Clock] = {}
    for m in sorted(counts_messages, key=lambda m: (m.partition, m.offset)):
        batch = codec.decode_counts(m.value)
        if not batch.progress:
            continue
        clock = advance_clock(clocks.get(m.partition, Clock()), batch.progress, sent_at=batch.sent_at)
        clocks[m.partition] = clock
        at = datetime.fromtimestamp(m.timestamp / 1000, tz=UTC)
        mark = watermark(clock, partitions=partitions, now=at, allowed_lateness=LATENESS,
                         caught_up_valid=CAUGHT_UP_VALID)
        holding = [s.event_time for s in clock.sources.values() if s.event_time is not None
                   and not (s.caught_up_at is not None and at - s.caught_up_at <= CAUGHT_UP_VALID)]
        if mark is not None and holding:
            out.setdefault(m.partition, []).append((m.timestamp / 1000, mark, min(holding)))
    return out


def delay_timeline(marks: dict[int, list[tuple[float, datetime, datetime]]], start: datetime, end: datetime,
                   step: float = 10.0) -> list[tuple[float, float]]:
    """(seconds from `start`, how far behind the wall clock the stored stream was: a counts message's timestamp -
    the slowest source partition's latest stored post), every `step` s, from counts partition 0's messages."""
    out: list[tuple[float, float]] = []
    next_at = start.timestamp()
    for ts, _, slowest in marks.get(0, []):
        if ts < next_at or ts > end.timestamp():
            continue
        out.append((round(ts - start.timestamp(), 1), round(ts - slowest.timestamp(), 2)))
        next_at = ts + step
    return out


def alert_latencies(alerts: Sequence[Any], marks: dict[int, list[tuple[float, datetime, datetime]]],
                    spike_start: datetime, spike_minutes: int, partitions: int) -> list[dict[str, Any]]:
    from processors.spike_merge import subject_key
    from schemas import Alert
    from streams import codec
    from streams.runtime.partitioner import partition_of

    out = []
    for m in alerts:
        a = codec.decode_model(m.value, Alert)
        ts = m.timestamp / 1000
        q = partition_of(subject_key(a.subject_type, a.subject).encode(), partitions)
        close = next(((t, mark, slowest) for t, mark, slowest in marks.get(q, []) if mark >= a.window_end), None)
        row = {"alert_id": a.alert_id, "kind": a.kind, "subject_type": a.subject_type, "subject": a.subject,
               "window_start": a.window_start.isoformat(), "observed": a.observed, "baseline": a.baseline,
               "spike_minute": spike_start <= a.window_start < spike_start + timedelta(minutes=spike_minutes),
               "latency_s": ts - a.window_end.timestamp(), "counts_partition": q}
        if close is not None:
            t, _, slowest = close
            row |= {"post_wait_s": (slowest - a.window_end - LATENESS).total_seconds(),
                    "post_to_counts_s": t - slowest.timestamp(), "counts_to_alert_s": ts - t}
        out.append(row)
    return out


def latency_run(args: argparse.Namespace, pool: Pool, spike_pool: Pool, workers: int, rate: float, rep: int
                ) -> dict[str, Any]:
    from bench._pipeline_support import BenchPipeline, process_cpu_seconds, stack_cpu_seconds, vm_hwm_kib

    pipe = BenchPipeline(partitions=PARTITIONS, extra_env=args.latency_env)
    log(f"latency: {workers} worker(s) at {rate:.0f} ev/s (tag {pipe.tag}, env {args.latency_env})")
    try:
        pipe.setup()
        for _ in range(workers):
            pipe.start_worker()
        ready = wait_ready(pipe, workers)
        enriched = pipe.settings.kafka.enriched_topic
        end = datetime.now(UTC)
        lines = backlog_lines(pool, end - timedelta(minutes=args.history_minutes), end, rate, "b")
        t0 = time.monotonic()
        kcat_send(pipe, enriched, lines)
        stored = len(lines)
        backlog_posts = stored
        wait_stored(pipe, stored, timeout=900)
        backlog_s = time.monotonic() - t0
        log(f"  ready in {ready:.0f}s; backlog of {stored} posts ({args.history_minutes} min) stored in "
            f"{backlog_s:.0f}s")
        round_ = 0
        while datetime.now(UTC) - end > timedelta(seconds=5):  # top up the minutes the backlog took
            round_ += 1
            now = datetime.now(UTC)
            lines = backlog_lines(pool, end, now, rate, f"t{round_}-")
            kcat_send(pipe, enriched, lines)
            stored += len(lines)
            end = now
            wait_stored(pipe, stored, timeout=300)
        first = datetime.now(UTC) + timedelta(seconds=3)
        spike_start = ceil_minute(first + MIN_LEAD)
        spike = timedelta(minutes=args.spike_minutes)
        posts = live_posts(pool, spike_pool, first=first, spike_start=spike_start, spike=spike,
                           end=spike_start + spike + timedelta(seconds=args.tail), rate=rate)
        lines = backlog_lines(pool, end, first, rate, "f")  # the history up to the first live post
        kcat_send(pipe, enriched, lines)
        stored += len(lines)
        cpu0 = (sum(process_cpu_seconds(w.pid) for w in pipe.workers), stack_cpu_seconds(), time.process_time())
        log(f"  live: {len(posts)} posts from {posts[0].created_at:%H:%M:%S}, spike {spike_start:%H:%M:%S} "
            f"+{args.spike_minutes} min, until {posts[-1].created_at:%H:%M:%S}")
        sampler = CpuSampler([w.pid for w in pipe.workers], lags=stage_lags(pipe))
        sampler.start()
        seconds, sent = asyncio.run(live_send(pipe, posts))
        sent_at = time.monotonic()
        cpu1 = (sum(process_cpu_seconds(w.pid) for w in pipe.workers), stack_cpu_seconds(), time.process_time())
        # cores used while sending: the workers (with their NLP processes), Kafka + ClickHouse, this process
        cores = [(b - a) / seconds for a, b in zip(cpu0, cpu1, strict=True)]
        # the tail's posts (> lateness after the spike) close its minutes once they are stored, however late
        wait_stored(pipe, stored + sent, timeout=600)
        caught_up = time.monotonic() - sent_at
        cpu_samples = sampler.stop()
        log("  every 10 s, cores per worker (event loop / other threads / NLP process) and messages behind "
            "(enrich / sink / detector): " + "; ".join(
                f"{x['t']:.0f}s " + " ".join(f"{w['loop']:.2f}/{w['threads']:.2f}/{w['nlp']:.2f}" for w in x["workers"])
                + (" lag {enrich}/{sink}/{detector}".format(**x["lags"]) if x["lags"] else "") for x in cpu_samples))
        sizes = topic_bytes(pipe.tag)
        log(f"  bytes on the broker per topic: {sizes}")
        time.sleep(args.wait_alerts)
        hwm = [vm_hwm_kib(w.pid) for w in pipe.workers]
        bootstrap = pipe.settings.kafka.bootstrap_servers
        alerts = read_topic(bootstrap, pipe.settings.kafka.alerts_topic)
        counts = read_topic(bootstrap, pipe.settings.kafka.counts_topic)
        marks = closing_times(counts, PARTITIONS)
        live_start, live_end = posts[0].created_at, posts[-1].created_at
        timeline = delay_timeline(marks, live_start, live_end + timedelta(seconds=120))
        live_counts = [m for m in counts if m.timestamp / 1000 >= live_start.timestamp()]
        counts_bytes = sum(len(m.key or b"") + len(m.value) for m in live_counts)
        rows = alert_latencies(alerts, marks, spike_start, args.spike_minutes, PARTITIONS)
        logs = {}
        for i in range(workers):
            text = (pipe.log_dir / f"{pipe.tag}-worker-{i}.log").read_text(errors="replace")
            odd = [line for line in text.splitlines()
                   if line.strip() and " alert " not in line and "score=" not in line]
            logs[i] = {"alert_lines": sum(1 for line in text.splitlines() if "score=" in line), "other": odd[-40:]}
        spiky = [r for r in rows if r["spike_minute"]]
        result = {"workers": workers, "rate": rate, "rep": rep, "tag": pipe.tag, "ready_s": ready,
                  "backlog_posts": backlog_posts, "history_posts": stored, "backlog_s": backlog_s,
                  "live_posts": sent, "live_s": seconds, "stored_after_send_s": caught_up,
                  "send_rate": sent / seconds, "cores_live": dict(zip(("workers", "kafka+clickhouse", "bench"), cores,
                                                                    strict=True)), "vm_hwm_kib": hwm,
                  "spike_start": spike_start.isoformat(), "live_start": live_start.isoformat(),
                  "delay_timeline": timeline, "cpu_samples": cpu_samples, "topic_bytes": sizes,
                  "counts_messages_live": len(live_counts),
                  "counts_bytes_per_1000_live_posts": counts_bytes / sent * 1000, "alerts": rows, "logs": logs}
        lead = (spike_start - live_start).total_seconds()
        before = [d for t, d in timeline if t < lead]
        result["delay_before_spike_s"] = med(before)
        result["delay_max_s"] = max((d for _, d in timeline), default=float("nan"))
        log(f"  stored stream behind the clock: {med(before):.1f}s (median) before the spike, max "
            f"{result['delay_max_s']:.1f}s; timeline (s from first live post, s behind): {timeline}")
        log(f"  counts topic while live: {len(live_counts)} messages, "
            f"{result['counts_bytes_per_1000_live_posts']:,.0f} B per 1,000 posts")
        lat = [r["latency_s"] for r in spiky]
        log(f"  {len(rows)} alerts, {len(spiky)} of the spike minutes: latency p50 {percentile(lat, 0.5):.1f}s "
            f"p99 {percentile(lat, 0.99):.1f}s; sent {sent} posts at {sent / seconds:.0f}/s; cores: workers "
            f"{cores[0]:.2f}, Kafka+ClickHouse {cores[1]:.2f}, bench {cores[2]:.2f}")
        for r in sorted(spiky, key=lambda r: r["latency_s"])[:: max(1, len(spiky) // 30)]:  # a sample
            log(f"    {r['alert_id']:<60} {r['latency_s']:6.1f}s  obs {r['observed']:.0f} base {r['baseline']:.1f}"
                + (f"  wait {r['post_wait_s']:.1f} + post→counts {r['post_to_counts_s']:.2f} + counts→alert "
                   f"{r['counts_to_alert_s']:.2f}" if "post_wait_s" in r else "  (no closing counts message found)"))
        return result
    finally:
        pipe.cleanup()


def exp_latency(args: argparse.Namespace) -> dict[str, Any]:
    from streams import codec

    out: dict[str, Any] = {"runs": []}
    max_rate = dict(args.max_rate or {})
    missing = [w for w in args.latency_workers if w not in max_rate]
    if missing:
        sys.path.insert(0, str(REPO / "bench"))
        from bench.bench_pipeline import load_corpus, pipeline_run

        n_per_worker = args.max_rate_events
        _, corpus_file = load_corpus(n_per_worker * max(missing) + 400, args.seed)
        for w in missing:
            r = pipeline_run(corpus_file, n_per_worker * w, w, label=f"enrich max x{w}", prewarm=400,
                             env=args.latency_env)
            max_rate[w] = r["steady_rate"]
            out.setdefault("max_rate_runs", []).append(r)
    out["max_rate"] = {str(w): max_rate[w] for w in args.latency_workers}
    out["max_rate_measured"] = [str(w) for w in missing]
    partitions, spike, values = read_cache(build_corpus(args))
    decoded = [codec.read_enriched(v) for v in values]
    pool = Pool.of([e for e, s in zip(decoded, spike, strict=True) if not s])
    spike_pool = Pool.of([e for e, s in zip(decoded, spike, strict=True) if s])
    for rep in range(args.latency_reps):
        for w in args.latency_workers if rep % 2 == 0 else args.latency_workers[::-1]:
            out["runs"].append(latency_run(args, pool, spike_pool, w, max_rate[w] / 2, rep))
    out["summary"] = latency_summary(out["runs"], args.latency_workers)
    return out


def latency_summary(runs: list[dict[str, Any]], workers: Sequence[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for w in workers:
        mine = [r for r in runs if r["workers"] == w]
        spiky = [a for r in mine for a in r["alerts"] if a["spike_minute"]]
        if not mine:
            continue
        row = {"runs": len(mine), "rate": med(r["rate"] for r in mine), "alerts": len(spiky),
               "other_alerts": sum(1 for r in mine for a in r["alerts"] if not a["spike_minute"]),
               "p50_s": percentile([a["latency_s"] for a in spiky], 0.5),
               "p99_s": percentile([a["latency_s"] for a in spiky], 0.99),
               "min_s": min((a["latency_s"] for a in spiky), default=float("nan")),
               "max_s": max((a["latency_s"] for a in spiky), default=float("nan")),
               "worker_cores_live": med(r["cores_live"]["workers"] for r in mine),
               "stack_cores_live": med(r["cores_live"]["kafka+clickhouse"] for r in mine),
               "send_rate": med(r["send_rate"] for r in mine),
               "delay_before_spike_s": med(r["delay_before_spike_s"] for r in mine),
               "delay_max_s": med(r["delay_max_s"] for r in mine),
               "counts_bytes_per_1000_live_posts": med(r["counts_bytes_per_1000_live_posts"] for r in mine),
               "subjects": sorted({f"{a['kind']} {a['subject_type']}:{a['subject']}" for a in spiky})}
        for key in ("post_wait_s", "post_to_counts_s", "counts_to_alert_s"):
            row[key] = med(a[key] for a in spiky if key in a)
        summary[str(w)] = row
    return summary


# ---------------------------------------------------------------------------- report


def listed(xs: Sequence[float] | None) -> str:
    return ", ".join(f"{x:.2f}" for x in xs or [])


def tables(results: dict[str, Any]) -> str:
    parts = []
    cpu = results.get("cpu", {}).get("summary")
    if cpu:
        reps = max((r["rep"] for r in results["cpu"]["runs"]), default=0) + 1
        lines = ["| sink batch | before: `alerting_stage(...).observe` | after: `CountsStage.after_stored` "
                 "| after / before |", "|---:|---:|---:|---:|"]
        ch_lines = ["| sink batch | earlier-copies connection | event-loop CPU | process CPU | wall "
                    "| ClickHouse server CPU | process CPU / before | batches whose counts were lost |",
                    "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for batch, row in cpu.items():
            b, a, ratio = row.get("before", {}), row.get("after", {}), row.get("after/before", {})
            lines.append(f"| {int(batch):,} | {b.get('us_per_event', float('nan')):.2f} µs ({listed(b.get('all'))}) | "
                         f"{a.get('us_per_event', float('nan')):.2f} µs ({listed(a.get('all'))}) | "
                         f"**{ratio.get('median', float('nan')):.2f}** ({listed(ratio.get('all'))}) |")
            for side, label in (("after-ch", "the worker's (`connect`)"),
                                ("after-ch-mqs", f"`max_query_size` = {BIG_QUERY_BYTES // 1024 // 1024} MiB")):
                c = row.get(side)
                if not c:
                    continue
                lost = c["lost_batches"]
                ch_lines.append(
                    f"| {int(batch):,} | {label} | {c['loop_cpu_us_per_event']:.2f} µs | {c['us_per_event']:.2f} µs | "
                    f"{c['wall_us_per_event']:.2f} µs | {c['server_cpu_us_per_event']:.1f} µs | "
                    f"{row.get(side + '/before', {}).get('median', float('nan')):.2f} | "
                    f"{med(lost):.0f} of {c['calls']} |")
        parts.append(f"CPU per stored event (median of {reps} reps, each rep's value in brackets):\n\n"
                     + "\n".join(lines))
        if len(ch_lines) > 2:
            parts.append("With the real earlier-copies query (`EarlierCopies`, in a thread; medians):\n\n"
                         + "\n".join(ch_lines))
        size_lines = ["| sink batch | bytes per 1,000 posts (key + value) | messages per 1,000 posts "
                      "| bytes per message |", "|---:|---:|---:|---:|"]
        for batch, row in cpu.items():
            s = row.get("size")
            if s:
                size_lines.append(f"| {int(batch):,} | {s['bytes_per_1000_posts']:,.0f} | "
                                  f"{s['messages_per_1000_posts']:.2f} | {s['bytes_per_message']:,.0f} |")
        parts.append("Counts topic (4 partitions):\n\n" + "\n".join(size_lines))
    lat = results.get("latency", {}).get("summary")
    if lat:
        lines = ["| workers | rate (½ max) | alerts of the spike minutes | p50 | p99 | min–max | of which: lateness + "
                 "wait for a post / post → counts message / counts message → alert (medians) | other alerts |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for w, row in lat.items():
            lines.append(f"| {w} | {row['rate']:.0f} ev/s (max {results['latency']['max_rate'][w]:.0f}) | "
                         f"{row['alerts']} | **{row['p50_s']:.1f} s** | {row['p99_s']:.1f} s | "
                         f"{row['min_s']:.1f}–{row['max_s']:.1f} s | 30 + {row['post_wait_s']:.2f} / "
                         f"{row['post_to_counts_s']:.2f} / {row['counts_to_alert_s']:.2f} s | {row['other_alerts']} |")
        parts.append("Alert latency (the alert's Kafka timestamp − its minute's end):\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def section_body(results: dict[str, Any]) -> str:
    return tables(results)


def command_line(argv: Sequence[str]) -> str:
    return ".venv/bin/python bench/bench_alerting.py " + " ".join(shlex.quote(a) for a in argv)


def write_results(path: Path, body: str) -> None:
    """Replace this section of RESULTS.md, or insert it above the first section (newest first); the rest of the
    file stays byte for byte."""
    import re

    text = path.read_text(encoding="utf-8")
    section = f"## {SECTION}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        first = re.search(r"^## ", text, re.MULTILINE)
        at = first.start() if first else len(text)
        text = text[:at] + section + text[at:]
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------- entry


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="cpu,size,latency",
                    help="comma-separated: cpu, size (both from the same runs), latency")
    ap.add_argument("--reps", type=int, default=5, help="cpu: repetitions, sides alternating within each")
    ap.add_argument("--batches", type=int_list, default=[500, 10_000], help="cpu/size: sink batch sizes")
    ap.add_argument("--base-tree", default="/work/base-75216f3",
                    help="checkout of the commit before (git -C /work/main worktree add /work/base-75216f3 75216f3)")
    ap.add_argument("--no-clickhouse-earlier", dest="clickhouse_earlier", action="store_false",
                    help="cpu: skip the side with the real EarlierCopies query")
    ap.add_argument("--mqs-batches", type=int_list, default=[10_000],
                    help="cpu: batch sizes at which the EarlierCopies side also runs with max_query_size raised")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--corpus-rate", type=int, default=24_000, help="posts per minute of the generated corpus")
    ap.add_argument("--corpus-seconds", type=int, default=96, help="event time the timed corpus covers")
    ap.add_argument("--spike-at", type=int, default=10, help="corpus: seconds from its start to the Nimbus spike")
    ap.add_argument("--spike-seconds", type=int, default=40, help="corpus: length of the spike")
    ap.add_argument("--history-minutes", type=float, default=12.0,
                    help="history before the timed corpus (cpu) and backlog before the live posts (latency)")
    ap.add_argument("--latency-workers", type=int_list, default=[1, 2])
    ap.add_argument("--latency-reps", type=int, default=1)
    ap.add_argument("--max-rate", type=rate_pairs, default=None,
                    help="the enrich pipeline's max rate per worker count (e.g. 1=792,2=1780); measured if absent")
    ap.add_argument("--max-rate-events", type=int, default=8000, help="events per worker to measure the max rate")
    ap.add_argument("--latency-env", type=env_pairs, default=env_pairs(LATENCY_ENV),
                    help="latency: worker settings (KEY=V,...). The default keeps every sink batch's earlier-copies "
                         "query under ClickHouse's max_query_size while the backlog is stored (10,000-event batches "
                         "exceed it and lose their counts); at half load a sink batch holds < 2,000 events anyway")
    ap.add_argument("--spike-minutes", type=int, default=2, help="latency: length of the live spike")
    ap.add_argument("--tail", type=int, default=40, help="latency: seconds of posts sent after the spike")
    ap.add_argument("--wait-alerts", type=int, default=10,
                    help="latency: seconds to wait for alerts once every live post is stored")
    ap.add_argument("--write", action="store_true", help=f"write '## {SECTION}' in bench/RESULTS.md")
    ap.add_argument("--from-json", help="report (and --write) the results of an earlier run instead of measuring")
    # a side subprocess (internal)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = args.only - {"cpu", "size", "latency"}
    if unknown:
        ap.error(f"--only: unknown {sorted(unknown)}")
    if args.reps < 1 or args.latency_reps < 1:
        ap.error("--reps and --latency-reps must be >= 1")
    if args.spike_at + args.spike_seconds + 30 > args.corpus_seconds - 5:
        ap.error("the corpus must go on > 35 s after the spike, so the spike's minute closes in the timed part")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.side:
        return side_main(args)
    if REPO.as_posix() not in sys.path:
        sys.path.insert(0, str(REPO))
    import streams.cli  # noqa: F401 - one BLAS thread, as in a worker (before numpy loads)

    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        if args.only & {"cpu", "size"} and not (Path(args.base_tree) / "streams" / "stages" / "alerts.py").exists():
            raise SystemExit(f"--base-tree {args.base_tree}: not a checkout of the base commit; "
                             f"git -C {REPO} worktree add /work/base-75216f3 75216f3")
        results = {"command": command_line(argv), "started": datetime.now(UTC).isoformat(),
                   "load_before": os.getloadavg()[0]}
        if args.only & {"cpu", "size"}:
            results["cpu"] = exp_cpu(args)
        if "latency" in args.only:
            results["latency"] = exp_latency(args)
        results["load_after"] = os.getloadavg()[0]
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        out = OUT_DIR / f"alerting-{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.write_text(json.dumps(results, indent=1, default=str))
        results["json"] = str(out.relative_to(REPO))
        log(f"raw results → {out}")
    print()
    print(tables(results))
    print()
    print(f"command: {results['command']}")
    if args.write:
        write_results(REPO / "bench" / "RESULTS.md", section_body(results))
    return 0


if __name__ == "__main__":
    if "--side" in sys.argv:  # a side subprocess: its tree's packages first (the base commit's for "before")
        tree = sys.argv[sys.argv.index("--tree") + 1]
        sys.path[:] = [tree] + [p for p in sys.path if Path(p).resolve() != Path(__file__).resolve().parent]
    raise SystemExit(main())
