"""Connectors against their fake servers: posts/s, CPU per 1,000 posts, and restart-to-resume time.

Per network and repetition, on the local broker (`make up`), with topics of its own (`bench.src.<tag>.*`):
1. the network's fake server (tests/fakes/<network>.py) runs in a process of its own (`python -m tests.fakes.serve`),
   serving `--count` distinct posts made from the network's documented payloads;
2. `socialpulse listen <network>` runs as a real subprocess against it, producing to Kafka with acks=all; its
   /metrics is polled every 50 ms;
3. **throughput**: from the first acknowledged post to the last one (`socialpulse_source_posts_total` reaching the
   number of posts served): posts/s = posts in that window / its wall time; CPU µs per post = the connector's
   utime+stime (/proc/<pid>/stat) over the same window / the same posts. Start-up (imports, checkpoint load,
   connection) is excluded; polling connectors are bounded by their fake's page size and the poll interval the
   fake asks for in its listen arguments, so their rate is the protocol's, not the code's;
4. **restart to resume**: SIGTERM the connector (it writes its last checkpoint), start it again, and time from the
   new process's start to its first settled unit (`socialpulse_source_progress_timestamp_seconds` appearing):
   Python start-up + reading the checkpoint back from the sources topic + connecting + the first read.
The fake server runs beside the connector on this 2-core machine, so both share the cores: medians of `--runs`.

    .venv/bin/python bench/bench_connectors.py                        # every network, 5,000 posts, 3 runs
    .venv/bin/python bench/bench_connectors.py --networks bluesky --count 20000 --runs 5

Results are printed and written as JSON to .local/bench/connectors-<time>.json; topics are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streams.kafka_admin import ensure_topics  # noqa: E402
from streams.settings import settings_with_env, topic_names_env  # noqa: E402
from tests.fakes import NETWORKS  # noqa: E402
from tests.support import free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def metric(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def start_listener(network: str, fake: dict[str, Any], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "streams.cli", "listen", network, *fake["listen_args"], "--source-id",
            f"bench-{network}", "--metrics-port", str(port), "--loglevel", "warning"]
    return subprocess.Popen(argv, env={**os.environ, **env, **fake["env"]}, cwd=REPO, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


def one_run(network: str, count: int, timeout: float) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    env = {**topic_names_env(f"bench.src.{tag}"), "SOCIALPULSE_KAFKA__PARTITIONS": "4"}
    settings = settings_with_env(env)
    ensure_topics(settings.kafka)
    log = REPO / ".local" / "bench" / f"connector-{network}-{tag}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.serve", network, "--count", str(count)],
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        fake = json.loads(server.stdout.readline())
        expected = fake["expected_posts"]
        port = free_port()
        proc = start_listener(network, fake, env, port, log)
        first = None
        deadline = time.monotonic() + timeout
        while True:
            posts = metric(port, "socialpulse_source_posts_total") or 0.0
            now = time.monotonic()
            if first is None and posts > 0:
                first = (now, posts, cpu_seconds(proc.pid))
            if posts >= expected:
                last = (now, posts, cpu_seconds(proc.pid))
                break
            if now > deadline or proc.poll() is not None:
                raise RuntimeError(f"{network}: {posts} of {expected} posts (see {log})")
            time.sleep(0.05)
        assert first is not None
        window_posts = last[1] - first[1]
        rate = window_posts / (last[0] - first[0]) if last[0] > first[0] else float("nan")
        cpu_per_1000 = (last[2] - first[2]) / window_posts * 1000 if window_posts else float("nan")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        port = free_port()
        started = time.monotonic()
        proc = start_listener(network, fake, env, port, log)
        while not metric(port, "socialpulse_source_progress_timestamp_seconds"):  # 0 until a unit settles
            if time.monotonic() - started > 60 or proc.poll() is not None:
                raise RuntimeError(f"{network}: no progress after the restart (see {log})")
            time.sleep(0.02)
        resume = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        return {"network": network, "posts": expected, "window_posts": window_posts, "posts_per_s": rate,
                "cpu_s_per_1000_posts": cpu_per_1000, "restart_to_resume_s": resume}
    finally:
        server.terminate()
        server.wait(10)
        _delete_topics(settings.kafka)


def _delete_topics(kafka: Any) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        admin.delete_topics([t.name for t in kafka.topics()])
    finally:
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for rep in range(args.runs):
        for network in args.networks.split(","):
            result = {"rep": rep, **one_run(network, args.count, args.timeout)}
            print(json.dumps(result), flush=True)
            results.append(result)
    print(f"\n{'network':10} {'posts/s':>10} {'CPU s/1000 posts':>17} {'restart→resume s':>17}"
          f"   (medians of {args.runs})")
    for network in args.networks.split(","):
        mine = [r for r in results if r["network"] == network]
        print(f"{network:10} {statistics.median(r['posts_per_s'] for r in mine):10.0f} "
              f"{statistics.median(r['cpu_s_per_1000_posts'] for r in mine):17.3f} "
              f"{statistics.median(r['restart_to_resume_s'] for r in mine):17.2f}")
    out = REPO / ".local" / "bench" / f"connectors-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
