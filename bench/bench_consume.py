"""Per-event cost of *consuming* from Kafka: a Faust agent's stream vs plain aiokafka batches.

Why: the streaming pipeline has a per-event budget. The pass-through goal is 20,000 ev/s on one worker, i.e.
50 µs of CPU per event for everything (consume, decode, produce, insert); and for pipeline ≥ 0.9 × NLP-only the
non-NLP cost must stay below ~150 µs per event (bench/RESULTS.md, "Streaming delivery"). This measures how much
of that budget consumption alone takes, before any work on the events, with the consumer the worker uses today
(a Faust agent, `take_events` batches, Faust's Prometheus monitor installed) and with aiokafka's `getmany()`.

Setup: one fresh topic `bench.consume.<marker>` (4 partitions), pre-filled with --events events of the project's
corpus (`bench._pipeline_support.build_corpus(--corpus, --seed)`, EN 60 % / ES 40 %, ~650 bytes a value),
cycled: event i is corpus event i mod --corpus with key `<event_id>#<i // --corpus>`, so keys are distinct and
values repeat. Produced with aiokafka before anything is measured (linger 20 ms, batches up to 512 KiB, lz4
like `socialpulse replay`, acks=all). Then per repetition, each variant in its own subprocess with its own
consumer group, reading the topic from the start:

  faust           faust-streaming worker (`app.main()`, `worker -l error`): raw key/value serializers,
                  store memory://, web disabled, consumer_auto_offset_reset=earliest, broker_commit_interval 1 s
                  (as the project's worker), unique app id / datadir under /tmp; ONE agent doing
                  `async for events in stream.take_events(10000, within=1.0)` and counting (take_events acks
                  the events itself); Faust's PrometheusMonitor installed as streams/metrics.py does:
                  `app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(CollectorRegistry(), "x"))`.
  faust-nosensor  the same without the monitor.
  aiokafka        AIOKafkaConsumer (own group, enable_auto_commit=False, earliest), `getmany(timeout_ms=1000,
                  max_records=10000)`, counting, `commit()` after each non-empty batch.

Measured window: from the moment the first batch is received to the moment the batch holding the N-th event is
received (start-up, group join and the first fetch excluded). events/s = events after the first batch / window
wall time; CPU µs per event = time.process_time() of the subprocess (all threads) over the same window / the
same events. Both consumers prefetch in the background, so some fetching of the window's events may happen
before it starts; as a bound, each run also reports the whole-process figures (from the script's first line,
imports, group join and start-up included: N / time, process CPU / N). CPU per event is what matters on this
shared 2-core machine: it does not depend on how much of the cores the run got. Variants run one at a time,
interleaved rep by rep (the order reversed every other rep); ratios are taken within a rep, then the median.
Faust redirects stdout into logging, so children report through a JSON file.

    .venv/bin/python bench/bench_consume.py                     # 100,000 events × 3 variants × 3 runs, ~2 min
    .venv/bin/python bench/bench_consume.py --events 50000 --runs 5 --bootstrap 127.0.0.1:19092

Needs the local broker (`make up`). Results: printed, and written as JSON to .local/bench/consume-<time>.json.
The topic and the consumer groups are deleted at the end (also on failure), the /tmp work dir too on success.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUT_DIR = REPO / ".local" / "bench"
VARIANTS = ("faust", "faust-nosensor", "aiokafka")
PARTITIONS = 4
TAKE = 10_000  # events per Faust take_events batch / aiokafka getmany max_records
WITHIN = 1.0  # seconds: take_events(within=) and getmany(timeout_ms=)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------------------- children (one variant each)


class Window:
    """First batch → batch holding the N-th event: wall and process CPU time."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.batches = 0
        self.first_events = 0
        self.t0 = self.c0 = self.startup_s = 0.0
        self.result: dict[str, Any] | None = None

    def add(self, n: int) -> bool:
        """Count a received batch of n events; True once all expected events are in."""
        if self.result is not None or n == 0:
            return self.result is not None
        now, cpu = time.perf_counter(), time.process_time()
        if self.batches == 0:
            self.t0, self.c0, self.first_events = now, cpu, n
            self.startup_s = now - T_START
        self.batches += 1
        self.count += n
        if self.count < self.expected:
            return False
        events = self.count - self.first_events
        wall, cpu_s = now - self.t0, cpu - self.c0
        self.result = {
            "events": self.count, "events_measured": events, "batches": self.batches,
            "first_batch": self.first_events, "wall_s": wall, "cpu_s": cpu_s,
            "events_per_s": events / max(wall, 1e-9), "cpu_us_per_event": 1e6 * cpu_s / max(events, 1),
            "startup_s": self.startup_s, "avg_batch": self.count / self.batches,
            # whole process (imports, group join, prefetch included): bounds what the window may miss
            "whole_events_per_s": self.count / (now - T_START), "whole_cpu_us_per_event": 1e6 * cpu / self.count,
        }
        return True


def write_result(path: str, result: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, path)  # the parent sees a complete file or none


def child_faust(args: argparse.Namespace, *, sensor: bool) -> None:
    import faust

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        datadir=args.datadir,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        broker_commit_interval=1.0,
    )
    if sensor:
        from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
        from prometheus_client import CollectorRegistry

        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(CollectorRegistry(), "x"))
    topic = app.topic(args.topic, partitions=PARTITIONS, key_type=bytes, value_type=bytes)
    window = Window(args.events)

    @app.agent(topic, name="count")
    async def count(stream: faust.StreamT) -> None:
        async for events in stream.take_events(TAKE, within=WITHIN):
            if window.result is None and window.add(len(events)):
                write_result(args.result, window.result)
                os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful stop (leaves the group)

    sys.argv = [sys.argv[0], "worker", "-l", "error"]
    app.main()


async def child_aiokafka(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    window = Window(args.events)
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(WITHIN * 1000), max_records=TAKE)
            n = sum(len(msgs) for msgs in batches.values())
            if window.add(n):
                break
            if n:
                await consumer.commit()
        await consumer.commit()
    finally:
        await consumer.stop()
    assert window.result is not None
    write_result(args.result, window.result)


def run_child(args: argparse.Namespace) -> int:
    if args.child == "aiokafka":
        asyncio.run(child_aiokafka(args))
    else:
        child_faust(args, sensor=args.child == "faust")
    return 0


# ---------------------------------------------------------------------------- parent


def produce(bootstrap: str, topic: str, n: int, corpus_size: int, seed: int) -> dict[str, Any]:
    from bench._pipeline_support import build_corpus

    t = time.perf_counter()
    corpus = build_corpus(min(corpus_size, n), seed)
    corpus_s = time.perf_counter() - t

    async def send_all() -> float:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                    compression_type="lz4", acks="all")
        await producer.start()
        try:
            t0 = time.perf_counter()
            m = len(corpus)
            futures = [await producer.send(topic, key=corpus.keys[i % m] + f"#{i // m}".encode(),
                                           value=corpus.values[i % m]) for i in range(n)]
            metas = await asyncio.gather(*futures)
            assert len(metas) == n
            return time.perf_counter() - t0
        finally:
            await producer.stop()

    produce_s = asyncio.run(send_all())
    return {"corpus_events": len(corpus), "corpus_s": corpus_s, "produce_s": produce_s,
            "produce_events_per_s": n / produce_s,
            "value_bytes_avg": sum(map(len, corpus.values)) / len(corpus)}


def create_topic(bootstrap: str, topic: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sp-bench-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)], timeout_ms=30_000)
    finally:
        admin.close()


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # SIGTERM: a Faust worker stops gracefully and leaves its group
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_variant(args: argparse.Namespace, variant: str, rep: int, topic: str, marker: str, work: Path) -> dict:
    name = f"{variant}-r{rep}"
    result_file, log_file = work / f"{name}.json", work / f"{name}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--topic", topic,
           "--events", str(args.events), "--bootstrap", args.bootstrap,
           "--group", f"sp-bench-consume-{marker}-{name}", "--datadir", str(work / f"data-{name}"),
           "--result", str(result_file)]
    timeout = 120 + args.events / 500
    started = time.perf_counter()
    with log_file.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_child(proc)
            rc = None
        except BaseException:  # Ctrl-C or a bug: no child left behind in the consumer group
            stop_child(proc)
            raise
    elapsed = time.perf_counter() - started
    if not result_file.exists():
        tail = log_file.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{name}: no result (exit {rc}, {elapsed:.0f} s; log {log_file}):\n{tail}")
    result = json.loads(result_file.read_text())
    result.update({"variant": variant, "rep": rep, "exit": rc, "process_s": elapsed})
    return result


def cleanup(bootstrap: str, marker: str) -> None:
    from bench._pipeline_support import delete_groups_containing, delete_topics_containing

    for what, fn in (("groups", delete_groups_containing), ("topics", delete_topics_containing)):
        try:
            names = fn(bootstrap, marker)
            log(f"cleanup: deleted {what} {names}")
        except Exception as exc:  # noqa: BLE001 - best effort, reported
            log(f"cleanup: deleting {what} containing {marker} failed: {exc}")


def summarize(runs: list[dict[str, Any]], n_runs: int) -> dict[str, Any]:
    by = {v: sorted((r for r in runs if r["variant"] == v), key=lambda r: r["rep"]) for v in VARIANTS}
    summary: dict[str, Any] = {}
    for v, rs in by.items():
        summary[v] = {
            "events_per_s_median": med([r["events_per_s"] for r in rs]),
            "cpu_us_per_event_median": med([r["cpu_us_per_event"] for r in rs]),
            "events_per_s": [round(r["events_per_s"]) for r in rs],
            "cpu_us_per_event": [round(r["cpu_us_per_event"], 1) for r in rs],
            "startup_s": [round(r["startup_s"], 1) for r in rs],
            "avg_batch": [round(r["avg_batch"]) for r in rs],
            "whole_events_per_s": [round(r["whole_events_per_s"]) for r in rs],
            "whole_cpu_us_per_event": [round(r["whole_cpu_us_per_event"], 1) for r in rs],
        }
    ratios: dict[str, list[float]] = {"rate aiokafka/faust": [], "cpu faust/aiokafka": [],
                                      "rate aiokafka/faust-nosensor": [], "cpu faust-nosensor/aiokafka": [],
                                      "cpu faust/faust-nosensor": []}
    for rep in range(n_runs):
        r = {v: next(x for x in by[v] if x["rep"] == rep) for v in VARIANTS}
        ratios["rate aiokafka/faust"].append(r["aiokafka"]["events_per_s"] / r["faust"]["events_per_s"])
        ratios["cpu faust/aiokafka"].append(r["faust"]["cpu_us_per_event"] / r["aiokafka"]["cpu_us_per_event"])
        ratios["rate aiokafka/faust-nosensor"].append(
            r["aiokafka"]["events_per_s"] / r["faust-nosensor"]["events_per_s"])
        ratios["cpu faust-nosensor/aiokafka"].append(
            r["faust-nosensor"]["cpu_us_per_event"] / r["aiokafka"]["cpu_us_per_event"])
        ratios["cpu faust/faust-nosensor"].append(
            r["faust"]["cpu_us_per_event"] / r["faust-nosensor"]["cpu_us_per_event"])
    summary["ratios"] = {k: {"median": med(v), "per_rep": [round(x, 1) for x in v]} for k, v in ratios.items()}
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\n{'variant':<16} {'ev/s median':>12} {'CPU µs/ev median':>17}   per rep: ev/s | CPU µs/ev")
    for v in VARIANTS:
        s = summary[v]
        print(f"{v:<16} {s['events_per_s_median']:>12,.0f} {s['cpu_us_per_event_median']:>17.1f}   "
              f"{s['events_per_s']} | {s['cpu_us_per_event']}")
    print("whole process, start-up included (per rep): ev/s | CPU µs/ev")
    for v in VARIANTS:
        s = summary[v]
        print(f"  {v:<16} {s['whole_events_per_s']} | {s['whole_cpu_us_per_event']}")
    print()
    for k, r in summary["ratios"].items():
        print(f"{k:<30} median {r['median']:7.1f}   per rep {r['per_rep']}")


def run_parent(args: argparse.Namespace) -> int:
    marker = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    topic = f"bench.consume.{marker}"
    work = Path("/tmp") / f"sp-bench-consume-{marker}"
    work.mkdir(parents=True)
    results: dict[str, Any] = {
        "bench": "consume", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv,
        "events": args.events, "runs": args.runs, "topic": topic, "partitions": PARTITIONS,
        "take": TAKE, "within_s": WITHIN, "loadavg_start": os.getloadavg(),
    }
    log(f"topic {topic}, {args.events:,} events, {args.runs} runs; load {os.getloadavg()}")
    ok = False
    try:
        create_topic(args.bootstrap, topic)
        results["produce"] = produce(args.bootstrap, topic, args.events, args.corpus, args.seed)
        p = results["produce"]
        log(f"produced {args.events:,} events (corpus {p['corpus_events']:,} built in {p['corpus_s']:.1f} s, "
            f"cycled) in {p['produce_s']:.1f} s")
        runs: list[dict[str, Any]] = []
        for rep in range(args.runs):
            order = VARIANTS if rep % 2 == 0 else tuple(reversed(VARIANTS))
            for variant in order:
                r = run_variant(args, variant, rep, topic, marker, work)
                runs.append(r)
                log(f"rep {rep} {variant:<15} {r['events_per_s']:>10,.0f} ev/s  {r['cpu_us_per_event']:7.1f} µs "
                    f"CPU/event  ({r['events_measured']:,} events in {r['wall_s']:.2f} s, {r['batches']} batches, "
                    f"first batch after {r['startup_s']:.1f} s; load {os.getloadavg()[0]:.2f})")
            rates = {r["variant"]: r for r in runs if r["rep"] == rep}
            log(f"rep {rep}: aiokafka/faust = {rates['aiokafka']['events_per_s'] / rates['faust']['events_per_s']:.1f}"
                f"x events/s, {rates['faust']['cpu_us_per_event'] / rates['aiokafka']['cpu_us_per_event']:.1f}"
                "x less CPU per event")
        results["runs_detail"] = runs
        results["summary"] = summarize(runs, args.runs)
        ok = True
    finally:
        results["loadavg_end"] = os.getloadavg()
        results["ok"] = ok
        cleanup(args.bootstrap, marker)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work} (child logs)")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        out = OUT_DIR / f"consume-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(results, indent=1, default=str))
        log(f"wrote {out}")
    print_summary(results["summary"])
    log(f"load average start {results['loadavg_start']}, end {results['loadavg_end']}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="events in the topic = N per run (default 100000)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each variant, interleaved (default 3)")
    ap.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers (default %(default)s)")
    ap.add_argument("--corpus", type=int, default=5_000,
                    help="distinct corpus events, cycled with suffixed keys up to --events (default 5000)")
    ap.add_argument("--seed", type=int, default=7, help="corpus seed (default 7)")
    # internal: one variant in a subprocess
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    for opt in ("--topic", "--group", "--datadir", "--result"):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.events < 1 or args.runs < 1 or args.corpus < 1:
        ap.error("--events, --runs and --corpus must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_child(args) if args.child else run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
