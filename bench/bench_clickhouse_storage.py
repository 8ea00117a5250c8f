"""ClickHouse's CPU per sink insert, by the filesystem its data is on, side by side on the running local stack.

Each variant gets a fresh database (the project's migrations: events + 15 materialized views) whose data
directory is the server's own or a symlink to another directory (ClickHouse 18.16 takes a database directory
that already exists); then --inserts inserts of --rows NLP-enriched rows, one every --interval seconds, as a
worker's sink does. Per insert: the server's user and system CPU, and the machine's busy CPU (/proc/stat,
so that kernel threads working for the server, such as a loop device's and the journal's, are counted too),
over the inserts and a --tail after them (merges). Variants alternate within each rep.

Why: the local stack's root filesystem here is ext4 without a journal, where every new inode scans past the
inodes deleted in the last minutes (recently_deleted() in fs/ext4/ialloc.c). deploy/local/stack.sh puts the
data on a journaled ext4 image when it finds such a filesystem; this measures what that changes.

    .venv/bin/python bench/bench_clickhouse_storage.py                         # server dir vs the root fs
    .venv/bin/python bench/bench_clickhouse_storage.py --dir tmpfs=/dev/shm/sp-bench --reps 5

Results: printed, and written as JSON to .local/bench/clickhouse-storage-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streams.cli  # noqa: E402,F401 - one BLAS thread, as in a worker
from bench._pipeline_support import (  # noqa: E402
    SERVER_DATABASES,
    build_corpus,
    place_database,
    release_database,
    service_pid,
)

OUT_DIR = REPO / ".local" / "bench"
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu_ms(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) * 1000 / TICK, int(fields[12]) * 1000 / TICK


def machine_busy_ms() -> float:
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq) * 1000 / TICK


def enriched_rows(n: int) -> list[tuple[Any, ...]]:
    from processors.enrich import enrich_batch
    from processors.models import load_models
    from schemas.events import RawEvent
    from streams.settings import Settings
    from streams.sinks.clickhouse.rows import event_row

    nlp = Settings().nlp
    models = load_models(profile=nlp.profile, brand_queries_path=nlp.brand_queries_path, languages=nlp.languages)
    events = [RawEvent.model_validate_json(v) for v in build_corpus(n, 7).values]
    enriched = [e for i in range(0, n, 256) for e in enrich_batch(events[i:i + 256], models, now=datetime.now(UTC))]
    return [event_row(e, partition=0, offset=i) for i, e in enumerate(enriched)]


def run_variant(name: str, directory: Path | None, rows: list[tuple[Any, ...]], args: argparse.Namespace,
                pid: int) -> dict[str, Any]:
    from streams.settings import Settings
    from streams.sinks.clickhouse.client import connect
    from streams.sinks.clickhouse.migrate import migrate
    from streams.sinks.clickhouse.rows import EVENT_COLUMNS

    db = f"sp_storage_{uuid.uuid4().hex[:10]}"
    if directory:
        place_database(db, directory)
    client = connect(Settings().clickhouse)
    try:
        migrate(client, db)
        sql = f"INSERT INTO {db}.events ({', '.join(f'`{c}`' for c in EVENT_COLUMNS)}) VALUES"
        time.sleep(args.tail)  # the migration's own files settle first
        (u0, s0), b0, t0 = server_cpu_ms(pid), machine_busy_ms(), time.monotonic()
        for k in range(args.inserts):
            client.execute(sql, [(uuid.uuid4().hex, *row[1:]) for row in rows], types_check=False)
            time.sleep(max(0.0, t0 + (k + 1) * args.interval - time.monotonic()))
        time.sleep(args.tail)
        (u1, s1), b1 = server_cpu_ms(pid), machine_busy_ms()
        out = {"variant": name, "user_ms": (u1 - u0) / args.inserts, "system_ms": (s1 - s0) / args.inserts,
               "machine_ms": (b1 - b0) / args.inserts}
        print(f"  {name:<10} per insert: server user {out['user_ms']:6.1f} ms  system {out['system_ms']:6.1f} ms  "
              f"machine busy {out['machine_ms']:6.1f} ms", flush=True)
        return out
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()
        if directory:
            release_database(db, directory)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", action="append", default=[], metavar="NAME=PATH",
                   help="another variant: the database's data in PATH (default: rootfs=.local/bench/ch-rootfs "
                        "when the server's data directory is a mount point)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--inserts", type=int, default=30)
    p.add_argument("--rows", type=int, default=500, help="rows per insert (a 1 s sink window at 500 ev/s)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between inserts")
    p.add_argument("--tail", type=float, default=3.0, help="seconds measured after the last insert (merges)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pid = service_pid("clickhouse")
    if pid is None:
        raise SystemExit("no local ClickHouse pid file: start the stack first (make up)")
    variants: list[tuple[str, Path | None]] = [("server", None)]
    for spec in args.dir:
        name, _, path = spec.partition("=")
        variants.append((name, Path(path).resolve()))
    if not args.dir and os.path.ismount(SERVER_DATABASES.parent):
        variants.append(("rootfs", (OUT_DIR / "ch-rootfs").resolve()))
    rows = enriched_rows(args.rows)
    results: list[dict[str, Any]] = []
    for rep in range(args.reps):
        print(f"rep {rep + 1}/{args.reps}", flush=True)
        order = variants if rep % 2 == 0 else variants[::-1]
        results += [run_variant(name, path, rows, args, pid) | {"rep": rep} for name, path in order]
    summary = {}
    for name, _ in variants:
        mine = [r for r in results if r["variant"] == name]
        summary[name] = {k: statistics.median(r[k] for r in mine) for k in ("user_ms", "system_ms", "machine_ms")}
        print(f"median {name:<10} server user {summary[name]['user_ms']:6.1f}  system {summary[name]['system_ms']:6.1f}"
              f"  machine busy {summary[name]['machine_ms']:6.1f} ms per insert")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"clickhouse-storage-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"args": vars(args), "data_dir_mounted": os.path.ismount(SERVER_DATABASES.parent),
                               "results": results, "median": summary}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
