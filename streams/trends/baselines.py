"""Keep the precomputed rising baselines (schemas/migrations/0006_rising_baselines.sql) available.

`rising_for(client, ...)` is what the CLI runs: when the window is whole hours it makes sure the baseline
row set it needs exists (computing it once, ~1 s on 10 M events, when missing) and returns the fast query
that reads it; when the baseline cannot be precomputed, or the user may not write (BI, read-only), it
returns the query that merges the hourly rollups at query time. `refresh(...)` recomputes the last hours'
baselines, for a periodic job (`socialpulse trends refresh-baselines`) that also picks up late events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from streams.trends import queries as q

log = logging.getLogger(__name__)
READONLY = 164


def ensure(client: Client, database: str, key: tuple[int, int, int], kinds: Sequence[str]) -> bool:
    """True when a row set for `key` exists for every kind (computed now for the missing kinds if allowed).

    A kind without any term in the whole baseline has no rows, so it is recomputed at each call (cheap:
    its hourly rollup is empty there)."""
    present = q.baselines_present(database, key, kinds)
    found = {kind for (kind,) in client.execute(present.sql, present.params)}
    missing = [kind for kind in kinds if kind not in found]
    if not missing:
        return True
    try:
        for statement in q.refresh_baselines(database, key, missing):
            client.execute(statement.sql, statement.params)
    except ch_errors.ServerException as exc:
        if exc.code != READONLY:
            raise
        log.info("rising baselines: read-only user, merging the hourly rollups at query time")
        return False
    return True


def rising_for(client: Client, database: str, *, at: datetime, window: str = "1h", baseline: str = "24h",
               kind: str = "all", min_count: int = 5, limit: int = 20) -> q.TrendQuery:
    plan = q.plan_rising(at=at, window=window, baseline=baseline, kind=kind, min_count=min_count)
    key = plan.baseline_key
    precomputed = key is not None and ensure(client, database, key, plan.kinds)
    return q.rising(database, at=at, window=window, baseline=baseline, kind=kind, min_count=min_count,
                    limit=limit, precomputed=precomputed)


def refresh(client: Client, database: str, *, at: datetime, hours: int = 2, window: str = "1h",
            baseline: str = "24h") -> list[tuple[int, int, int]]:
    """Recompute the baselines a rising query with `window` and `baseline` uses at `at` and in the
    `hours - 1` hours before it. Returns the keys written."""
    if hours < 1:
        raise q.TrendQueryError(f"--hours must be at least 1 (got {hours})")
    keys = []
    for back in range(hours):
        plan = q.plan_rising(at=at, window=window, baseline=baseline)
        if plan.baseline_key is None:
            raise q.TrendQueryError("only windows of whole hours have precomputed baselines")
        end, step, buckets = plan.baseline_key
        key = (end - back * q.HOUR, step, buckets)
        for statement in q.refresh_baselines(database, key):
            client.execute(statement.sql, statement.params)
        keys.append(key)
    return keys
