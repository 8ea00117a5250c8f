"""Every Prometheus metric of a worker, created against a registry passed in (tests use a fresh one).

Labels stay bounded: agent, table, error code, stage, network, language, sentiment label, tracked topic.
Never an entity string or an author.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    events_in: Counter
    events_out: Counter
    dead_letters: Counter
    enrich_seconds: Histogram
    batch_size: Histogram
    batch_retries: Counter
    insert_seconds: Histogram
    rows_inserted: Counter
    clickhouse_retries: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            events_in=Counter("socialpulse_events_in_total", "Messages taken from Kafka", ["agent"], registry=reg),
            events_out=Counter("socialpulse_events_out_total", "Messages produced", ["agent"], registry=reg),
            dead_letters=Counter("socialpulse_dead_letters_total", "Records dead-lettered",
                                 ["code", "stage"], registry=reg),
            enrich_seconds=Histogram("socialpulse_enrich_batch_seconds", "enrich_batch wall time per batch",
                                     buckets=LATENCY_BUCKETS, registry=reg),
            batch_size=Histogram("socialpulse_batch_size", "Messages per processed batch", ["agent"],
                                 buckets=BATCH_BUCKETS, registry=reg),
            batch_retries=Counter("socialpulse_batch_retries_total", "Batches retried after an exception",
                                  ["agent"], registry=reg),
            insert_seconds=Histogram("socialpulse_clickhouse_insert_seconds", "ClickHouse insert time per batch",
                                     ["table"], buckets=LATENCY_BUCKETS, registry=reg),
            rows_inserted=Counter("socialpulse_clickhouse_rows_total", "Rows written to ClickHouse", ["table"],
                                  registry=reg),
            clickhouse_retries=Counter("socialpulse_clickhouse_insert_errors_total",
                                       "Retriable ClickHouse insert failures", registry=reg),
        )
