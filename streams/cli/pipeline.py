"""Pipeline subcommands: setup, migrate, worker, workers, report, run (the main job)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from streams.settings import REPO_ROOT, Settings, consumer_groups

SAMPLE = REPO_ROOT / "data" / "sample" / "posts.jsonl"
LOCAL = REPO_ROOT / ".local"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("setup", help="Create the Kafka topics and apply ClickHouse migrations")
    p.set_defaults(func=cmd_setup)

    p = subparsers.add_parser("migrate", help="Apply pending ClickHouse migrations (idempotent)")
    p.set_defaults(func=cmd_migrate)

    p = subparsers.add_parser("worker", help="Run one Faust worker in the foreground (SIGTERM stops it cleanly)")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = subparsers.add_parser("workers", help="Manage the background workers started by `run`")
    p.add_argument("action", choices=["status", "stop"])
    p.add_argument("--max", type=int, default=16, help="highest worker index to look for")
    p.set_defaults(func=cmd_workers)

    p = subparsers.add_parser("report", help="Print the trend report computed by ClickHouse")
    p.add_argument("--top", type=int, default=10)
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser(
        "run", help="Main job: topics + tables, background workers, replay the sample, wait, print the report",
        description="Expects the local stack to be up (`make up`). Running it again does not double-count: "
                    "events are deduplicated by event_id.")
    p.add_argument("files", nargs="*", type=Path, default=[SAMPLE], help=f"posts to replay (default {SAMPLE})")
    p.add_argument("--workers", type=int, default=1, help="background worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the pipeline to drain")
    p.set_defaults(func=cmd_run)


def cmd_setup(args: argparse.Namespace) -> int:
    settings = Settings()
    from streams.kafka_admin import ensure_topics

    created = ensure_topics(settings.kafka)
    print(f"topics: created {created}" if created else "topics: all present")
    return cmd_migrate(args)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = Settings()
    from streams.sinks.clickhouse.client import connect
    from streams.sinks.clickhouse.migrate import migrate
    from streams.trends.access import migration_substitutions

    client = connect(settings.clickhouse)
    applied = migrate(client, settings.clickhouse.database, substitutions=migration_substitutions())
    print(f"clickhouse {settings.clickhouse.database}: applied {applied}" if applied
          else f"clickhouse {settings.clickhouse.database}: up to date")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import faust

    from streams.app import create_app
    from streams.runtime.process_tuning import tune_gc

    settings = Settings()
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    tune_gc(settings.worker.gc_threshold)
    sys.setswitchinterval(settings.worker.switch_interval)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=args.loglevel, quiet=True)
    # At --loglevel warning or above Faust's terminal spinner sets the root logger to DEBUG (it spins per log
    # record): every debug call in aiokafka and clickhouse-driver then builds a LogRecord — 3 % of a
    # pass-through worker's CPU. A worker's output goes to a log file, not a terminal.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


def _workers(count: int) -> list:  # type: ignore[type-arg]
    from streams.workers import worker_processes

    return worker_processes(LOCAL / "run", LOCAL / "logs", count)


def cmd_workers(args: argparse.Namespace) -> int:
    from streams.workers import stop_worker

    for worker in _workers(args.max):
        if args.action == "status":
            if pid := worker.pid():
                print(f"worker-{worker.index}: running, pid {pid}, log {worker.log_file}")
        elif stop_worker(worker):
            print(f"worker-{worker.index}: stopped")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from streams.report import build_report, render
    from streams.sinks.clickhouse.client import connect

    settings = Settings()
    print(render(build_report(connect(settings.clickhouse), settings.clickhouse.database, top=args.top)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from streams.progress import pipeline_lag, wait_until_drained
    from streams.sources.replay import replay
    from streams.workers import start_worker

    settings = Settings()
    started = time.monotonic()
    cmd_setup(args)
    workers = _workers(args.workers)
    for worker in workers:
        pid = start_worker(worker, web_port=settings.worker.web_port + worker.index,
                           env={"SOCIALPULSE_WORKER__DATA_DIR": str(settings.worker.data_dir / f"w{worker.index}")})
        print(f"worker-{worker.index}: pid {pid}, log {worker.log_file}")
    summary = replay(args.files, bootstrap_servers=settings.kafka.bootstrap_servers,
                     topic=settings.kafka.raw_topic, progress=False)
    print(f"replayed {', '.join(map(str, args.files))}: {summary.line()}")
    if summary.failed:
        print(f"error: the broker did not acknowledge {summary.failed} posts: {summary.errors[:3]}", file=sys.stderr)
        return 1
    kafka = settings.kafka
    groups = consumer_groups(settings)

    last: list[dict[str, int]] = []

    def show(lag: dict[str, int]) -> None:
        if not any(worker.pid() for worker in workers):
            raise RuntimeError(f"every worker has exited; see {workers[0].log_file}")
        if last and last[-1] == lag:
            return
        last.append(lag)
        line = "waiting for the pipeline: lag " + ", ".join(f"{t}={n}" for t, n in lag.items())
        if sys.stderr.isatty():
            print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    try:
        wait_until_drained(lambda: pipeline_lag(kafka.bootstrap_servers, groups),
                           timeout=args.timeout, on_progress=show)
    except (TimeoutError, RuntimeError) as exc:
        print(f"\nerror: {exc}. Worker logs: {LOCAL / 'logs'}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    cmd_report(argparse.Namespace(top=10))
    ch = settings.clickhouse
    print(f"""
Done in {time.monotonic() - started:.1f}s. Query further:
  clickhouse-client --port {ch.port} -d {ch.database} -q "SELECT network, count() FROM events FINAL GROUP BY network"
  curl 'http://127.0.0.1:{ch.http_port}/?query=SELECT+count()+FROM+{ch.database}.events+FINAL'
  .venv/bin/socialpulse report        # this report again
  .venv/bin/socialpulse workers stop  # stop the background workers (make down stops everything)""")
    return 0
