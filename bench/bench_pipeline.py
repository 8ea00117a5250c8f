"""Streaming delivery benchmark (issue 5): raw topic → rows queryable in ClickHouse, on the local stack.

Every run gets fresh topics (4 partitions), a fresh ClickHouse database and consumer group; real
`python -m streams.cli worker` subprocesses; the events are produced to the raw topic (with kcat, from a
cached file of the fixed corpus) BEFORE the workers start, so consumption is measured. Rows are counted with
uniqExact(event_id) every 100 ms.

Rates:
  steady  the figure compared with the goals. With --prewarm K (enrich experiment): the workers first process
          K other events (all joined, models loaded), then the N events are produced with kcat and
          steady = N / (produce start → all rows). Otherwise (pass-through): from the first poll that sees a
          row to the poll that sees all N (excludes interpreter start-up, model loading, group join);
  wall    events/s from worker start to all N (start-up included), for information;
  CPU     user+sys µs per event of all workers over the same window (robust to the shared machine).

Experiments (--only, comma-separated; default all), interleaved rep by rep so ratios are side by side:
  enrich      per rep: NLP-only (enrich_batch in P processes, multiprocessing, GC tuned as in a worker) and the
              pipeline with P worker processes, for P in --workers; plus the naive agent (bench/naive_agent.py,
              one message at a time, --naive-events) next to the 1-worker pipeline; with --enrich-variant, pipelines
              with other settings too (1 worker, or BENCH_WORKERS=N). Order alternates between reps.
  passthrough per rep: SOCIALPULSE_WORKER__ENRICH=false with default settings and with each --pt-variant;
              once: ClickHouse 18.16's own Kafka table engine + materialized view on the same corpus.
  latency     1 worker: steady production at --latency-fraction of the measured max rate (enrich, and
              pass-through capped by --latency-max-rate), send time stamped by the producer, ClickHouse polled
              every 100 ms for new event_ids: p50/p99 event → queryable; worker VmHWM.
  profile     in-process: the pass-through steps (streams/stages/) stage by stage on the corpus, alternatives
              (model_validate_json, no types_check), cProfile top functions.
  wprofile    one pass-through worker run under cProfile (event-loop thread: Faust, aiokafka, sends).

    .venv/bin/python bench/bench_pipeline.py                       # everything, ~15 min on 2 busy cores
    .venv/bin/python bench/bench_pipeline.py --only passthrough --runs 5
    .venv/bin/python bench/bench_pipeline.py --only enrich --workers 1,2 --enrich-events 8000

Results: printed, and written as JSON to .local/bench/pipeline-<time>.json. Topics and databases are deleted
at the end of every run (also on failure).
"""

# ruff: noqa: B023  (exp_profile times lambdas that are called at once, inside the loop iteration)
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streams.cli  # noqa: E402,F401 - one BLAS thread, as in a worker (set before numpy loads; children inherit it)
from bench._pipeline_support import (  # noqa: E402
    DB_DIR_SETTING,
    BenchPipeline,
    Corpus,
    RowTimeline,
    build_corpus,
    process_cpu_seconds,
    stack_cpu_seconds,
    thread_cpu_seconds,
    vm_hwm_kib,
)

OUT_DIR = REPO / ".local" / "bench"
WORKERS_SETTING = "BENCH_WORKERS"
EXPERIMENTS = ("enrich", "passthrough", "latency", "profile", "wprofile")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------------------- corpus


def load_corpus(n: int, seed: int) -> tuple[Corpus, Path]:
    """The fixed corpus, cached as a kcat input file (key TAB value per line)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"corpus-s{seed}-n{n}.tsv"
    if path.exists():
        keys, values = [], []
        with path.open("rb") as fh:
            for line in fh:
                k, v = line.rstrip(b"\n").split(b"\t", 1)
                keys.append(k)
                values.append(v)
        return Corpus(keys, values), path
    t0 = time.monotonic()
    corpus = build_corpus(n, seed)
    for k, v in zip(corpus.keys, corpus.values, strict=True):
        if b"\t" in k or b"\n" in k or b"\n" in v:
            raise ValueError("corpus record not kcat-safe")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(k + b"\t" + v + b"\n" for k, v in zip(corpus.keys, corpus.values, strict=True)))
    tmp.replace(path)
    log(f"corpus: {n} events (seed {seed}) generated in {time.monotonic() - t0:.1f}s → {path}")
    return corpus, path


def kcat_produce(pipe: BenchPipeline, corpus_file: Path, n: int, *, skip: int = 0, topic: str | None = None) -> float:
    """Lines skip..skip+n of the corpus file to the raw topic with kcat (lz4, acks=all); returns events/s."""
    topic = topic or pipe.settings.kafka.raw_topic
    with corpus_file.open("rb") as fh:
        data = b"".join(line for i, line in zip(range(skip + n), fh, strict=False) if i >= skip)
    t0 = time.monotonic()
    subprocess.run(["kcat", "-P", "-b", pipe.settings.kafka.bootstrap_servers, "-t", topic, "-K", "\t",
                    "-z", "lz4", "-X", "acks=all", "-X", "linger.ms=20"],
                   input=data, check=True, timeout=300)
    return n / (time.monotonic() - t0)


# ---------------------------------------------------------------------------- pipeline runs


def pipeline_run(corpus_file: Path, n: int, workers: int, *, enrich: bool = True, env: dict[str, str] | None = None,
                 command: list[str] | None = None, timeout: float = 600.0, label: str = "",
                 prewarm: int = 0) -> dict[str, Any]:
    """n events pre-produced, then the workers start; steady rate from the first row seen.

    prewarm > 0: the workers first process `prewarm` other events (so every worker has joined the group and
    loaded its models), then the n events are produced with kcat (well under a second) and the rate is
    n / (produce start → all rows): the "first row" is then the start of production."""
    worker_env = dict(env or {})
    db_dir = worker_env.pop(DB_DIR_SETTING, None)
    pipe = BenchPipeline(partitions=4, extra_env=worker_env, db_dir=Path(db_dir) if db_dir else None)
    try:
        pipe.setup()
        if prewarm:
            kcat_produce(pipe, corpus_file, prewarm, skip=len(corpus_file.read_bytes().splitlines()) - prewarm)
            for _ in range(workers):
                pipe.start_worker(enrich=enrich, command=command)
            pipe.wait_rows(prewarm, timeout=timeout)
            # every worker loads its models before joining the stage groups: wait until all have joined, or a
            # late joiner's rebalance would fall inside the measured window (not for other commands: naive agent)
            worker = command is None or "streams.cli worker" in " ".join(command)  # this tree's or a baseline's
            deadline = time.monotonic() + (120 if worker else 0)
            while (pipe.group_members() or 0) < workers and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1.0)  # let the last warm-up batch finish (acks, commit) before the clock starts
            prewarm = pipe.distinct_events()
        produce_rate = kcat_produce(pipe, corpus_file, n)
        if not pipe.workers:
            for _ in range(workers):
                pipe.start_worker(enrich=enrich, command=command)
        members: list[int | None] = []
        cpu_first: list[float] = []
        nlp_first: list[float] = []

        def workers_cpu() -> float:
            return sum(process_cpu_seconds(w.pid) for w in pipe.workers)

        def nlp_processes_cpu() -> float:  # the workers' children: their NLP processes (streams/runtime/nlp_process.py)
            return sum(process_cpu_seconds(w.pid) - sum(thread_cpu_seconds(w.pid).values()) for w in pipe.workers)

        stack_first: list[float] = []

        def at_first_row() -> None:
            cpu_first.append(workers_cpu())
            nlp_first.append(nlp_processes_cpu())
            stack_first.append(stack_cpu_seconds())
            members.append(pipe.group_members())

        if prewarm:
            started, cpu_first = time.monotonic() - 1 / max(produce_rate, 1) * n, [workers_cpu()]
            nlp_first.append(nlp_processes_cpu())
            stack_first.append(stack_cpu_seconds())
            members.append(pipe.group_members())
            tl = pipe.wait_rows(prewarm + n, timeout=timeout)
            tl = RowTimeline(started=started, first_at=started, first_rows=prewarm, done_at=tl.done_at,
                             rows=tl.rows, samples=tl.samples)
        else:
            tl = pipe.wait_rows(n, timeout=timeout, on_poll=at_first_row)
        cpu_done, nlp_done, stack_done = workers_cpu(), nlp_processes_cpu(), stack_cpu_seconds()
        hwm = [vm_hwm_kib(w.pid) for w in pipe.workers]
        cpu = thread_cpu_seconds(pipe.workers[0].pid)
        # CPU seconds all workers used per event between the first row and the last: robust to the machine
        # being shared (a throughput ratio is not), and ~1/throughput when the worker is CPU-bound.
        cpu_us = (cpu_done - cpu_first[0]) / max(tl.rows - tl.first_rows, 1) * 1e6 if cpu_first else None
        # the broker's and ClickHouse's CPU in the same window (with --prewarm it includes kcat's produce burst)
        stack_us = (stack_done - stack_first[0]) / max(tl.rows - tl.first_rows, 1) * 1e6 if stack_first else None
        # of cpu_us, what the NLP processes used (0 when NLP runs in the worker or is off)
        nlp_us = (nlp_done - nlp_first[0]) / max(tl.rows - tl.first_rows, 1) * 1e6 if nlp_first else None
        middle = tl.middle_rate()
        result = {"label": label, "events": n, "workers": workers, "enrich": enrich, "env": env or {},
                  "steady_rate": tl.steady_rate, "middle_rate": middle, "wall_rate": tl.wall_rate,
                  "warmup_s": tl.warmup,
                  "first_rows": tl.first_rows, "drain_s": tl.done_at - tl.first_at,
                  "members_at_first_row": members[0] if members else None, "vm_hwm_kib": hwm,
                  "thread_cpu_s_worker0": cpu, "cpu_us_per_event": cpu_us, "stack_cpu_us_per_event": stack_us,
                  "nlp_process_cpu_us_per_event": nlp_us,
                  "produce_rate": produce_rate,
                  "tag": pipe.tag}
        log(f"  {label:<28} steady {tl.steady_rate:8.0f} ev/s  middle {middle or 0:8.0f} ev/s  "
            f"wall {tl.wall_rate:8.0f} ev/s  "
            f"warm-up {tl.warmup:5.1f}s  first rows {tl.first_rows}  members {result['members_at_first_row']}  "
            f"CPU {cpu_us or 0:6.0f} µs/event (NLP procs {nlp_us or 0:4.0f}; Kafka+ClickHouse {stack_us or 0:4.0f})  "
            f"VmHWM {[h // 1024 if h else None for h in hwm]} MiB")
        return result
    finally:
        pipe.cleanup()


def _nlp_child(values: list[bytes], batch: int, barrier: Any, queue: Any) -> None:
    from processors.enrich import enrich_batch
    from processors.models import load_models
    from schemas.events import RawEvent
    from streams.runtime.process_tuning import freeze_heap, tune_gc
    from streams.settings import Settings

    settings = Settings()
    nlp = settings.nlp
    tune_gc(settings.worker.gc_threshold)  # the same process tuning as a worker: the ratio compares the pipeline
    events = [RawEvent.model_validate_json(v) for v in values]
    models = load_models(profile=nlp.profile, brand_queries_path=nlp.brand_queries_path, languages=nlp.languages)
    if settings.worker.gc_threshold:
        freeze_heap()
    barrier.wait()
    t0, c0 = time.monotonic(), time.process_time()
    for i in range(0, len(events), batch):
        enrich_batch(events[i:i + batch], models, now=datetime.now(UTC))
    queue.put((t0, time.monotonic(), len(events), time.process_time() - c0))


def nlp_only_run(corpus: Corpus, n: int, processes: int, *, batch: int) -> dict[str, Any]:
    """enrich_batch alone on the same n events split over `processes` processes (models loaded before timing)."""
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    share = [corpus.values[i:n:processes] for i in range(processes)]
    procs = [ctx.Process(target=_nlp_child, args=(share[i], batch, barrier, queue)) for i in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    start, end = min(r[0] for r in results), max(r[1] for r in results)
    rate = sum(r[2] for r in results) / (end - start)
    cpu_us = sum(r[3] for r in results) / sum(r[2] for r in results) * 1e6
    log(f"  {'nlp-only x' + str(processes):<28} {rate:8.0f} ev/s  ({end - start:.1f}s)  CPU {cpu_us:6.0f} µs/event")
    return {"processes": processes, "events": n, "rate": rate, "seconds": end - start, "cpu_us_per_event": cpu_us}


# ---------------------------------------------------------------------------- experiments


def enrich_variant(spec: str) -> tuple[dict[str, str], int]:
    """An --enrich-variant's worker settings, and how many workers it runs (the bench-only BENCH_WORKERS, default 1)."""
    env = dict(kv.split("=", 1) for kv in spec.split(","))
    return env, int(env.pop(WORKERS_SETTING, "1"))


def exp_enrich(args: argparse.Namespace, corpus: Corpus, corpus_file: Path) -> dict[str, Any]:
    n, batch = args.enrich_events, args.nlp_batch
    variants = {v: enrich_variant(v) for v in args.enrich_variant}
    reps: list[dict[str, Any]] = []
    for rep in range(args.runs):
        log(f"enrich rep {rep + 1}/{args.runs}")
        steps: list[tuple[str, Callable[[], Any]]] = []
        for p in args.workers:
            steps.append((f"nlp{p}", lambda p=p: nlp_only_run(corpus, n, p, batch=batch)))
            steps.append((f"pipe{p}", lambda p=p: pipeline_run(corpus_file, n, p, label=f"pipeline x{p}",
                                                               prewarm=args.prewarm)))
        for v, (env, count) in variants.items():  # other settings, next to the defaults in the same rep
            steps.append((f"variant {v}", lambda env=env, v=v, count=count: pipeline_run(
                corpus_file, n, count, label=f"pipeline x{count} {v}", env=env, prewarm=args.prewarm)))
        if args.baseline_tree:  # an older checkout's worker, 1 of them, in the same rep
            steps.append(("baseline", lambda: pipeline_run(
                corpus_file, n, 1, label=f"pipeline x1 baseline {args.baseline_tree}",
                command=baseline_worker_command(args.baseline_tree), prewarm=args.prewarm)))
        if args.naive_events:
            steps.insert(2, ("naive", lambda: pipeline_run(
                corpus_file, args.naive_events, 1, label="naive agent",
                command=[sys.executable, str(REPO / "bench" / "naive_agent.py")], prewarm=args.prewarm)))
        if rep % 2:
            steps.reverse()
        reps.append({name: fn() for name, fn in steps})
    summary: dict[str, Any] = {"events": n, "naive_events": args.naive_events, "runs": args.runs, "by_workers": {}}
    for p in args.workers:
        pipe = [r[f"pipe{p}"]["steady_rate"] for r in reps]
        nlp = [r[f"nlp{p}"]["rate"] for r in reps]
        ratios = [a / b for a, b in zip(pipe, nlp, strict=True)]
        cpu_ratios = [r[f"nlp{p}"]["cpu_us_per_event"] / r[f"pipe{p}"]["cpu_us_per_event"] for r in reps
                      if r[f"pipe{p}"].get("cpu_us_per_event")]
        # the same ratio from the pipeline's middle rate (its start and its sink tail left out; see middle_rate)
        middle = [(r[f"pipe{p}"]["middle_rate"] or float("nan")) / r[f"nlp{p}"]["rate"] for r in reps]
        summary["by_workers"][p] = {"pipeline_steady": med(pipe), "pipeline_wall": med(
            [r[f"pipe{p}"]["wall_rate"] for r in reps]), "nlp_only": med(nlp), "ratio_median": med(ratios),
            "ratios": ratios, "pipeline_all": pipe, "nlp_all": nlp,
            "middle_ratio_median": med(middle), "middle_ratios": middle,
            "pipeline_cpu_us_per_event": med([r[f"pipe{p}"].get("cpu_us_per_event") or float("nan") for r in reps]),
            "nlp_cpu_us_per_event": med([r[f"nlp{p}"]["cpu_us_per_event"] for r in reps]),
            "cpu_ratio_median": med(cpu_ratios), "cpu_ratios": cpu_ratios,
            "stack_cpu_us_per_event": med([r[f"pipe{p}"].get("stack_cpu_us_per_event") or float("nan")
                                           for r in reps])}
    for v, (_, count) in variants.items():
        nlp = f"nlp{count}"
        ratios = [r[f"variant {v}"]["steady_rate"] / r[nlp]["rate"] for r in reps if nlp in r]
        summary["variants"] = summary.get("variants", {})
        summary["variants"][v] = {
            "pipeline_steady": med([r[f"variant {v}"]["steady_rate"] for r in reps]), f"ratios_vs_{nlp}": ratios,
            "ratio_median": med(ratios) if ratios else None,
            "cpu_us_per_event": med([r[f"variant {v}"].get("cpu_us_per_event") or float("nan") for r in reps]),
            "stack_cpu_us_per_event": med([r[f"variant {v}"].get("stack_cpu_us_per_event") or float("nan")
                                           for r in reps])}
    if args.baseline_tree and 1 in args.workers:
        ratios = [r["baseline"]["steady_rate"] / r["nlp1"]["rate"] for r in reps]
        summary["baseline"] = {"tree": args.baseline_tree, "pipeline_steady": med([r["baseline"]["steady_rate"]
                                                                                   for r in reps]),
                               "ratios_vs_nlp1": ratios, "ratio_median": med(ratios),
                               "cpu_us_per_event": med([r["baseline"].get("cpu_us_per_event") or float("nan")
                                                        for r in reps])}
    if args.naive_events and 1 in args.workers:
        naive = [r["naive"]["steady_rate"] for r in reps]
        ratios = [r["pipe1"]["steady_rate"] / r["naive"]["steady_rate"] for r in reps]
        summary["naive"] = {"rate": med(naive), "all": naive, "ratio_median": med(ratios), "ratios": ratios,
                            "cpu_us_per_event": med([r["naive"].get("cpu_us_per_event") or float("nan")
                                                     for r in reps])}
    summary["vm_hwm_mib_1worker_enrich"] = med([r["pipe1"]["vm_hwm_kib"][0] / 1024 for r in reps
                                                if "pipe1" in r and r["pipe1"]["vm_hwm_kib"][0]])
    return {"summary": summary, "reps": reps}


def kafka_engine_run(pipe_corpus_file: Path, n: int, timeout: float = 120.0) -> dict[str, Any]:
    """ClickHouse's own Kafka engine + MV into a MergeTree, consuming the same pre-produced corpus.

    18.16's consumer starts at the log end when its group has no committed offset (librdkafka's default
    auto.offset.reset), so offset 0 is committed for its group first (kafka-python admin)."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.structs import OffsetAndMetadata

    pipe = BenchPipeline(partitions=4)
    try:
        pipe.setup()
        topic, group = pipe.settings.kafka.raw_topic, f"sp-bench-ke-{pipe.tag}"
        kcat_produce(pipe, pipe_corpus_file, n)
        admin = KafkaAdminClient(bootstrap_servers=pipe.settings.kafka.bootstrap_servers, client_id="sp-bench-admin")
        try:
            admin.alter_group_offsets(group, {TopicPartition(topic, p): OffsetAndMetadata(0, "", -1)
                                              for p in range(4)})
        finally:
            admin.close()
        ch, db = pipe.clickhouse(), pipe.db
        # only fields that are never null: 18.16's JSONEachRow cannot read null into String and stalls
        cols = "event_id String, network String, kind String, native_id String, text String, created_at String"
        ch.execute(f"CREATE TABLE {db}.ke_target ({cols}) ENGINE = MergeTree ORDER BY event_id")
        ch.execute(f"CREATE TABLE {db}.ke_queue ({cols}) ENGINE = Kafka('{pipe.settings.kafka.bootstrap_servers}', "
                   f"'{topic}', '{group}', 'JSONEachRow')")
        t0 = time.monotonic()
        ch.execute(f"CREATE MATERIALIZED VIEW {db}.ke_mv TO {db}.ke_target AS SELECT * FROM {db}.ke_queue")
        first: tuple[float, int] | None = None
        while True:
            now = time.monotonic()
            (count,), = ch.execute(f"SELECT uniqExact(event_id) FROM {db}.ke_target")
            if count and first is None:
                first = (now, count)
            if count >= n:
                break
            if now - t0 > timeout:
                raise TimeoutError(f"Kafka engine: {count} of {n} rows after {timeout:.0f}s")
            time.sleep(0.1)
        assert first is not None
        steady = (count - first[1]) / (now - first[0]) if now > first[0] else float("inf")
        result = {"events": n, "wall_rate": count / (now - t0), "steady_rate": steady, "first_rows": first[1],
                  "warmup_s": first[0] - t0}
        log(f"  {'ClickHouse Kafka engine':<28} wall {result['wall_rate']:8.0f} ev/s  first rows {first[1]} "
            f"after {first[0] - t0:.1f}s")
        ch.execute(f"DROP TABLE {db}.ke_mv")
        ch.execute(f"DROP TABLE {db}.ke_queue")
        return result
    except Exception as exc:  # noqa: BLE001 - the error is the finding
        log(f"  ClickHouse Kafka engine failed: {exc!r}")
        return {"error": repr(exc)[:2000]}
    finally:
        pipe.cleanup()


def exp_passthrough(args: argparse.Namespace, corpus: Corpus, corpus_file: Path) -> dict[str, Any]:
    # the corpus's last --prewarm events are the multi-worker variants' warm-up: every variant measures the rest
    n = args.events - (args.prewarm if any(w > 1 for w in args.pt_workers) else 0)
    variants: dict[str, dict[str, str]] = {"default": {}}
    for v in args.pt_variant:
        variants[v] = dict(kv.split("=", 1) for kv in v.split(","))
    commands: dict[str, list[str] | None] = dict.fromkeys(variants)
    workers = dict.fromkeys(variants, 1)
    for count in args.pt_workers:
        if count > 1:
            name = f"default x{count} workers"
            variants[name], commands[name], workers[name] = {}, None, count
    if args.baseline_tree:
        name = f"baseline {args.baseline_tree}"
        # with as many workers as the most this tree runs, so the pass-through goal (2 workers) compares side by side
        variants[name], commands[name], workers[name] = ({}, baseline_worker_command(args.baseline_tree),
                                                         max(args.pt_workers))
    reps: list[dict[str, Any]] = []
    for rep in range(args.runs):
        log(f"pass-through rep {rep + 1}/{args.runs}")
        names = list(variants)
        if rep % 2:
            names.reverse()
        # several workers: all join every stage group on a warm-up first (as in the enrich experiment), or their
        # rebalances would fall inside the measured window
        reps.append({name: pipeline_run(corpus_file, n, workers[name], enrich=False, env=variants[name],
                                        command=commands[name], label=f"pass-through {name}",
                                        prewarm=args.prewarm if workers[name] > 1 else 0) for name in names})
    engine = kafka_engine_run(corpus_file, n) if args.kafka_engine else None
    summary: dict[str, Any] = {"events": n, "runs": args.runs, "variants": {}}
    base = [r["default"]["steady_rate"] for r in reps]
    for name in variants:
        rates = [r[name]["steady_rate"] for r in reps]
        summary["variants"][name] = {
            "env": variants[name], "steady": med(rates), "wall": med([r[name]["wall_rate"] for r in reps]),
            "middle": med([r[name]["middle_rate"] or float("nan") for r in reps]),
            "middle_all": [r[name]["middle_rate"] for r in reps],
            "all": rates, "ratio_vs_default": med([a / b for a, b in zip(rates, base, strict=True)]),
            "vm_hwm_mib": med([r[name]["vm_hwm_kib"][0] / 1024 for r in reps if r[name]["vm_hwm_kib"][0]]),
            "thread_cpu_s": reps[-1][name]["thread_cpu_s_worker0"],
            "cpu_us_per_event": med([r[name].get("cpu_us_per_event") or float("nan") for r in reps]),
            "stack_cpu_us_per_event": med([r[name].get("stack_cpu_us_per_event") or float("nan") for r in reps])}
    summary["kafka_engine"] = engine
    return {"summary": summary, "reps": reps}


def baseline_worker_command(tree: str) -> list[str]:
    """The worker of another checkout (e.g. `git worktree add /tmp/base <rev>`), run with this venv: `-m` puts the
    working directory first on sys.path, so that tree's streams/ and processors/ are imported."""
    root = Path(tree).resolve()
    if not ((root / "streams" / "cli.py").exists() or (root / "streams" / "cli" / "__init__.py").exists()):
        raise SystemExit(f"--baseline-tree {tree}: no streams/cli there")
    return ["bash", "-c", f'cd "{root}" && exec "{sys.executable}" -m streams.cli worker --loglevel warning']


async def paced_send(pipe: BenchPipeline, corpus: Corpus, first: int, total: int, rate: float,
                     sent: dict[str, float]) -> float:
    """Send corpus[first:first+total] at `rate` events/s, stamping each with the time it was handed to the
    producer; returns the rate achieved. The pipeline's own batch producer: kafka-python's send() took ~0.8 of a
    core at 6k events/s, more than the pass-through worker it measured, on a 2-core machine."""
    from streams.runtime.producer import BatchProducer, acknowledged

    producer = BatchProducer(pipe.settings.kafka, client_id="sp-bench-latency",
                             max_message_bytes=pipe.settings.kafka.max_message_bytes)
    await producer.start()
    try:
        topic, pending, done = pipe.settings.kafka.raw_topic, [], 0
        t0 = time.monotonic()
        while done < total:
            due = min(total, int((time.monotonic() - t0) * rate) + 1)
            if due > done:
                now = time.time()
                batch = [(topic, corpus.keys[j], corpus.values[j]) for j in range(first + done, first + due)]
                for _, key, _ in batch:
                    sent[key.decode()] = now
                pending += await producer.enqueue(batch)
                done = due
            await asyncio.sleep(0.005)
        achieved = total / (time.monotonic() - t0)
        await acknowledged(pending)
        return achieved
    finally:
        await producer.stop()


def latency_run(corpus: Corpus, corpus_file: Path, *, enrich: bool, rate: float, seconds: float,
                warm: int = 200, env: dict[str, str] | None = None, command: list[str] | None = None
                ) -> dict[str, Any]:
    pipe = BenchPipeline(partitions=4, extra_env=env or {})
    try:
        pipe.setup()
        kcat_produce(pipe, corpus_file, warm)
        worker = pipe.start_worker(enrich=enrich, command=command)
        pipe.wait_rows(warm, timeout=300)
        total = int(rate * seconds)
        if warm + total > len(corpus):
            raise ValueError(f"corpus too small for {total} latency events; raise --events")
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        done = threading.Event()
        from streams.sinks.clickhouse.client import connect

        client = connect(pipe.settings.clickhouse)  # the poller thread's own connection

        def poller() -> None:
            # Only rows past the highest enriched-topic offset seen per partition: the sink inserts each
            # partition's rows in offset order. (Reading every event_id 10 times a second cost the machine more
            # CPU than the pass-through worker at ~4k ev/s: the harness slowed what it measured.)
            deadline_after_done = None
            last: dict[int, int] = {}
            while True:
                t = time.time()
                newer = " OR ".join(f"(kafka_partition = {p} AND kafka_offset > {o})" for p, o in last.items())
                old = ",".join(str(p) for p in last)
                where = f"kafka_partition NOT IN ({old})" + (f" OR {newer}" if newer else "") if last else "1"
                for eid, partition, offset in client.execute(
                        f"SELECT event_id, kafka_partition, kafka_offset FROM {pipe.db}.events WHERE {where}"):
                    if eid not in seen:
                        seen[eid] = t
                    if offset > last.get(partition, -1):
                        last[partition] = offset
                if done.is_set():
                    deadline_after_done = deadline_after_done or time.monotonic() + 30
                    if len(seen) >= warm + total or time.monotonic() > deadline_after_done:
                        return
                time.sleep(max(0.0, 0.1 - (time.time() - t)))

        th = threading.Thread(target=poller, daemon=True)
        th.start()
        def cpu_seconds() -> tuple[float, float, float]:
            # the worker's, the broker's and ClickHouse's, and this process's (producer and poller): over the send
            # window they tell a slow worker from a starved one
            return process_cpu_seconds(worker.pid), stack_cpu_seconds(), time.process_time()

        cpu0, t0 = cpu_seconds(), time.monotonic()
        achieved = asyncio.run(paced_send(pipe, corpus, warm, total, rate, sent))
        window = time.monotonic() - t0
        cores = [(now - then) / window for now, then in zip(cpu_seconds(), cpu0, strict=True)]
        done.set()
        th.join(timeout=120)
        hwm = vm_hwm_kib(worker.pid)
        in_order = [seen[e] - s for e, s in sent.items() if e in seen]  # in send order
        quarter = max(1, len(in_order) // 4)
        p50_first_q = statistics.median(in_order[:quarter]) if in_order else float("nan")
        p50_last_q = statistics.median(in_order[-quarter:]) if in_order else float("nan")
        lat = sorted(in_order)
        missing = len(sent) - len(lat)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

        result = {"enrich": enrich, "env": env or {}, "target_rate": rate, "achieved_send_rate": achieved,
                  "events": total,
                  "missing": missing, "p50_s": pct(0.5), "p90_s": pct(0.9), "p99_s": pct(0.99),
                  "max_s": lat[-1] if lat else float("nan"), "vm_hwm_kib": hwm,
                  # a p50 that grows from the first to the last quarter means a backlog: the rate is not sustained
                  "p50_first_quarter_s": p50_first_q, "p50_last_quarter_s": p50_last_q,
                  "cores_worker_stack_harness": cores}
        log(f"  latency {'enrich' if enrich else 'pass-through':<12} at {rate:.0f} ev/s (sent {achieved:.0f}/s): "
            f"p50 {result['p50_s']:.2f}s p90 {result['p90_s']:.2f}s p99 {result['p99_s']:.2f}s "
            f"max {result['max_s']:.2f}s missing {missing}  p50 1st/last quarter {p50_first_q:.2f}/{p50_last_q:.2f}s  "
            f"VmHWM {hwm and hwm // 1024} MiB  cores: worker {cores[0]:.2f} Kafka+ClickHouse {cores[1]:.2f} "
            f"bench {cores[2]:.2f}")
        return result
    finally:
        pipe.cleanup()


def exp_latency(args: argparse.Namespace, corpus: Corpus, corpus_file: Path,
                measured: dict[str, Any]) -> dict[str, Any]:
    enrich_max = (measured.get("enrich", {}).get("summary", {}).get("by_workers", {}).get(1, {})
                  .get("pipeline_steady")) or args.enrich_max_rate
    pt_max = (measured.get("passthrough", {}).get("summary", {}).get("variants", {}).get("default", {})
              .get("steady")) or args.passthrough_max_rate
    out: dict[str, Any] = {"enrich_max_rate_used": enrich_max, "passthrough_max_rate_used": pt_max, "runs": []}
    trees: list[str | None] = [None, args.baseline_tree] if args.baseline_tree else [None]
    for rep in range(args.latency_runs):
        log(f"latency rep {rep + 1}/{args.latency_runs}")
        for tree in trees if rep % 2 == 0 else trees[::-1]:  # this tree and the baseline alternate, same rates
            command = baseline_worker_command(tree) if tree else None
            if args.latency_enrich:
                out["runs"].append(latency_run(
                    corpus, corpus_file, enrich=True, rate=enrich_max * args.latency_fraction,
                    seconds=args.latency_seconds, env=args.latency_env, command=command) | {"tree": tree})
            if args.latency_passthrough:
                out["runs"].append(latency_run(
                    corpus, corpus_file, enrich=False, seconds=args.latency_seconds,
                    rate=min(pt_max * args.latency_fraction, args.latency_max_rate), env=args.latency_env,
                    command=command) | {"tree": tree})
    for mode, tree in ((m, t) for m in (True, False) for t in trees):
        runs = [r for r in out["runs"] if r["enrich"] is mode and r["tree"] == tree]
        if runs:
            key = ("enrich" if mode else "passthrough") + (" baseline" if tree else "")
            out[key] = {k: med([r[k] for r in runs]) for k in (
                "p50_s", "p99_s", "max_s", "target_rate", "achieved_send_rate", "p50_first_quarter_s",
                "p50_last_quarter_s")} | {
                "vm_hwm_mib": med([r["vm_hwm_kib"] / 1024 for r in runs if r["vm_hwm_kib"]]), "runs": len(runs)}
    return out


def exp_profile(args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    """Where a pass-through worker's step time goes, stage by stage, in this process."""

    from schemas.events import EnrichedEvent, RawEvent
    from streams import codec
    from streams.metrics import Metrics
    from streams.runtime.process_tuning import freeze_heap, tune_gc
    from streams.runtime.records import Record
    from streams.settings import Settings
    from streams.sinks.clickhouse.rows import EVENT_COLUMNS, event_row
    from streams.stages.clickhouse_sink import sink_records
    from streams.stages.enrich import count_enrich, enrich_outcome, pass_through

    def enrich_records(records: Any, *, models: Any, limits: Any, now: Any, metrics: Any) -> Any:
        outcome = enrich_outcome(records, models=models, limits=limits, now=now)
        count_enrich(outcome, metrics)
        return outcome.out

    # as in a worker: with CPython's GC thresholds, collections walking the corpus and the decoded batches are
    # charged to whichever step allocates
    tune_gc(Settings().worker.gc_threshold)
    freeze_heap()
    # one loop for every async step: asyncio.run() restores its SIGINT handler on exit, and `signal` then builds
    # a repr of the finished task, result included (~40 µs per event of a sink batch, not the worker's cost)
    loop = asyncio.new_event_loop()
    n = min(args.profile_events, len(corpus))
    now = datetime.now(UTC)
    limits = codec.Limits()
    metrics = Metrics.create()
    records = [Record("raw", i % 4, i, corpus.keys[i], corpus.values[i]) for i in range(n)]
    pipe = BenchPipeline(partitions=1)
    stages: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        stages.setdefault(name, []).append(time.perf_counter() - t0)
        return value

    try:
        pipe.setup()
        ch = pipe.clickhouse()
        sql = f"INSERT INTO {pipe.db}.events ({', '.join(f'`{c}`' for c in EVENT_COLUMNS)}) VALUES"
        batch = 10_000
        for _ in range(args.runs):
            raws = timed("decode_raw (json.loads + normalize + limits + UTF-8 re-encode check)", lambda: [
                codec.decode_raw(r.value, topic=r.topic, partition=r.partition, offset=r.offset, key=r.key,
                                 now=now, limits=limits) for r in records])
            timed("alt: RawEvent.model_validate_json (pydantic-core JSON, no dict)",
                  lambda: [RawEvent.model_validate_json(r.value) for r in records])
            enriched = timed("pass_through (EnrichedEvent construction)", lambda: [pass_through(e, now) for e in raws])
            values = timed("encode_model (model_dump_json)", lambda: [codec.encode_model(e) for e in enriched])
            timed("enrich_records total (the enrich agent's step)", lambda: enrich_records(
                records, models=None, limits=limits, now=now, metrics=metrics))
            decoded = timed("decode_enriched (json.loads + model_validate)",
                            lambda: [codec.decode_enriched(v) for v in values])
            timed("alt: EnrichedEvent.model_validate_json", lambda: [EnrichedEvent.model_validate_json(v)
                                                                     for v in values])
            rows = timed("event_row", lambda: [event_row(e, partition=0, offset=i) for i, e in enumerate(decoded)])
            timed("ClickHouse INSERT, types_check=True (batches of 10k)", lambda: [
                ch.execute(sql, rows[i:i + batch], types_check=True) for i in range(0, n, batch)])
            timed("alt: ClickHouse INSERT, types_check=False", lambda: [
                ch.execute(sql, rows[i:i + batch]) for i in range(0, n, batch)])
            sink_in = [Record("enriched", i % 4, i, corpus.keys[i], v) for i, v in enumerate(values)]

            class _Writer:
                async def insert(self, table: str, columns: Any, rows: Any, **_: Any) -> list[Any]:
                    return []

            timed("sink_records total without the insert (the sink agent's step)", lambda: loop.run_until_complete(
                sink_records(sink_in, writer=_Writer(), table="x", now=now, metrics=metrics)))
        prof = cProfile.Profile()
        prof.enable()
        out = enrich_records(records[:5000], models=None, limits=limits, now=now, metrics=metrics)
        loop.run_until_complete(sink_records([Record("enriched", 0, i, o.key, o.value) for i, o in enumerate(out)],
                                             writer=_Writer(), table="x", now=now, metrics=metrics))
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
        per_event_us = {k: med(v) / n * 1e6 for k, v in stages.items()}
        for k, v in per_event_us.items():
            log(f"  {v:8.1f} µs/event  {1e6 / v:9.0f} ev/s  {k}")
        return {"events": n, "runs": args.runs, "us_per_event": per_event_us, "cprofile_top": buf.getvalue()}
    finally:
        loop.close()
        pipe.cleanup()


def exp_wprofile(args: argparse.Namespace, corpus_file: Path) -> dict[str, Any]:
    """One pass-through worker under cProfile (its main thread = the asyncio loop running Faust and aiokafka;
    the asyncio.to_thread steps run in pool threads cProfile does not see, they are in `profile`)."""
    prof_file = OUT_DIR / f"worker-passthrough-{datetime.now(UTC):%Y%m%dT%H%M%S}.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof_file), "-m", "streams.cli", "worker",
           "--loglevel", "warning"]
    run = pipeline_run(corpus_file, args.events, 1, enrich=False, command=cmd, label="pass-through (cProfile)")
    out: dict[str, Any] = {"run": run, "profile_file": str(prof_file)}
    if prof_file.exists():
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            pstats.Stats(str(prof_file), stream=buf).sort_stats(key).print_stats(30)
            out[f"top_{key}"] = buf.getvalue()
            print(buf.getvalue()[-6000:])
    else:
        log("  no profile written (the worker did not exit through SystemExit)")
    return out


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(EXPERIMENTS),
                    help=f"comma-separated experiments to run, of {', '.join(EXPERIMENTS)} (default: all)")
    ap.add_argument("--events", type=int, default=20_000,
                    help="corpus size = events per pass-through / Kafka-engine run (default 20000)")
    ap.add_argument("--enrich-events", type=int, default=6_000,
                    help="events per enrich-mode pipeline and NLP-only run: the first N of the corpus (default 6000)")
    ap.add_argument("--naive-events", type=int, default=1_000,
                    help="events per naive-agent run; 0 skips the naive agent (default 1000)")
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                    help="worker/process counts for the enrich experiment (default 1,2)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    ap.add_argument("--prewarm", type=int, default=400,
                    help="enrich experiment: events (the corpus' last ones) the workers process before the measured "
                         "events are produced, so all workers have joined and loaded models; 0 = measure from the "
                         "first row of pre-produced events instead (default 400)")
    ap.add_argument("--seed", type=int, default=7, help="corpus seed (default 7)")
    ap.add_argument("--nlp-batch", type=int, default=None,
                    help="enrich_batch batch size in the NLP-only runs (default: the workers', "
                         "SOCIALPULSE_NLP__BATCH_SIZE)")
    ap.add_argument("--pt-variant", action="append", default=None, metavar="ENV=V[,ENV=V]",
                    help="extra pass-through setting variants measured side by side with the defaults "
                         "(repeatable). Default: SOCIALPULSE_WORKER__PASSTHROUGH_BATCH_SIZE=256 (the enrich "
                         "batch) and =4096. In a variant, BENCH_CLICKHOUSE_DB_DIR=PATH puts the run's database's "
                         "data in PATH (a symlink in the server's data directory), e.g. on another filesystem")
    ap.add_argument("--enrich-variant", action="append", default=[], metavar="ENV=V[,ENV=V]",
                    help="enrich: also run a 1-worker pipeline with these settings in every rep (repeatable), side "
                         "by side with the defaults; its ratio is taken against that rep's 1-process NLP-only run "
                         "(BENCH_CLICKHOUSE_DB_DIR as in --pt-variant; BENCH_WORKERS=N runs N workers, against "
                         "the N-process NLP-only run, N in --workers)")
    ap.add_argument("--pt-workers", type=lambda s: [int(x) for x in s.split(",")], default=[1],
                    help="passthrough: also run the defaults with these worker counts (e.g. 1,2)")
    ap.add_argument("--baseline-tree", default=None, metavar="PATH",
                    help="also run the worker of this checkout (a git worktree of an older commit) in every rep, "
                         "side by side with this one: enrich (1 worker), passthrough (max --pt-workers) and latency")
    ap.add_argument("--no-kafka-engine", dest="kafka_engine", action="store_false",
                    help="skip the ClickHouse Kafka table engine comparison")
    ap.add_argument("--latency-runs", type=int, default=2, help="latency repetitions (default 2)")
    ap.add_argument("--latency-seconds", type=float, default=20.0, help="steady production time per latency run")
    ap.add_argument("--latency-fraction", type=float, default=0.5, help="fraction of the max rate (default 0.5)")
    ap.add_argument("--latency-max-rate", type=float, default=3000.0,
                    help="cap on the pass-through latency send rate (kafka-python producer in this process)")
    ap.add_argument("--latency-env", default="", metavar="ENV=V[,ENV=V]",
                    help="settings for the latency workers, e.g. SOCIALPULSE_NLP__BATCH_SECONDS=0.2")
    ap.add_argument("--no-latency-passthrough", dest="latency_passthrough", action="store_false",
                    help="measure latency in enrich mode only")
    ap.add_argument("--no-latency-enrich", dest="latency_enrich", action="store_false",
                    help="measure latency in pass-through mode only")
    ap.add_argument("--enrich-max-rate", type=float, default=250.0,
                    help="1-worker enrich max rate used for latency when the enrich experiment is not run")
    ap.add_argument("--passthrough-max-rate", type=float, default=3000.0,
                    help="pass-through max rate used for latency when the passthrough experiment is not run")
    ap.add_argument("--profile-events", type=int, default=10_000, help="events for the in-process profile")
    args = ap.parse_args(argv)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(args.only) - set(EXPERIMENTS)
    if unknown:
        ap.error(f"unknown experiments {sorted(unknown)}; choose from {EXPERIMENTS}")
    args.latency_env = dict(kv.split("=", 1) for kv in args.latency_env.split(",") if kv)
    if args.pt_variant is None:
        # NLP__BATCH_SIZE does not apply without NLP: the pass-through batch does
        args.pt_variant = [f"SOCIALPULSE_WORKER__PASSTHROUGH_BATCH_SIZE={n}" for n in (256, 4096)]
    if args.nlp_batch is None:
        from streams.settings import Settings

        args.nlp_batch = Settings().nlp.batch_size
    # the warm-up events are the corpus's last ones: measured events overlapping them would be rows already stored
    if max(args.enrich_events, args.naive_events) + args.prewarm > args.events:
        ap.error("--enrich-events and --naive-events plus --prewarm must not exceed --events (the corpus)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    corpus, corpus_file = load_corpus(args.events, args.seed)
    log(f"corpus {corpus_file.name}; experiments {args.only}; load {os.getloadavg()}")
    results: dict[str, Any] = {"argv": sys.argv, "started": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
                               "loadavg_start": os.getloadavg()}
    try:
        if "enrich" in args.only:
            results["enrich"] = exp_enrich(args, corpus, corpus_file)
        if "passthrough" in args.only:
            results["passthrough"] = exp_passthrough(args, corpus, corpus_file)
        if "latency" in args.only:
            results["latency"] = exp_latency(args, corpus, corpus_file, results)
        if "profile" in args.only:
            results["profile"] = exp_profile(args, corpus)
        if "wprofile" in args.only:
            results["wprofile"] = exp_wprofile(args, corpus_file)
    finally:
        results["loadavg_end"] = os.getloadavg()
        results["seconds"] = time.monotonic() - started
        out = OUT_DIR / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        out.write_text(json.dumps(results, indent=1, default=str))
        log(f"done in {results['seconds']:.0f}s → {out}")
    print(json.dumps({k: v.get("summary", v) if isinstance(v, dict) else v for k, v in results.items()
                      if k in EXPERIMENTS}, indent=1, default=str)[:20000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
