"""Trend storage and queries on the real local ClickHouse (18.16), one database per test (`pipeline`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from streams.settings import REPO_ROOT
from streams.sinks.clickhouse.migrate import load_migrations
from streams.trends import queries as q
from streams.trends.baselines import ensure
from streams.trends.retention import apply, plan
from streams.trends.synthetic import insert_statements

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
COLUMNS = ("event_id, network, author_id, author_handle, text, created_at, enriched_at, language, sentiment_label, "
           "sentiment_score, `entities.text`, `entities.label`, `entities.canonical`, `entities.source`, "
           "hashtags, mentions, topics, likes")


def _event(n: int, created: datetime, label: str, topics: list[str], tags: list[str], likes: int = 0) -> tuple:
    naive = created.astimezone(UTC).replace(tzinfo=None)
    ents = ["spotify"] if "spotify" in topics else []
    return (f"x:{n}", "x", f"a{n % 3}", f"user{n % 3}", f"post {n}", naive, naive, "en", label,
            {"positive": 0.5, "negative": -0.5}.get(label, 0.0), ents, ["ORG"] * len(ents), ents,
            ["gazetteer"] * len(ents), tags, [], topics, likes)


def _insert(client, db: str, rows: list[tuple]) -> None:
    client.execute(f"INSERT INTO {db}.events ({COLUMNS}) VALUES", rows)


def _cli(pipeline, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **pipeline.env}, cwd=REPO_ROOT, timeout=120)


def test_trends_duplicate_inserts_do_not_double_count(pipeline):
    client, db = pipeline.clickhouse(), pipeline.settings.clickhouse.database
    rows = [_event(i, AT - timedelta(minutes=30 + i), ["positive", "neutral", "negative"][i % 3],
                   ["spotify"] if i % 2 == 0 else ["deezer"], ["wrapped"], likes=i) for i in range(12)]
    for _ in range(3):  # the same batch delivered three times (retries, replays)
        _insert(client, db, rows)
    (stored,), = client.execute(f"SELECT count() FROM {db}.events")
    assert stored == 36

    rising = client.execute(*_query(q.rising(db, at=AT, kind="all", min_count=1, limit=50)))
    counts = {(kind, term): current for kind, term, current, *_ in rising}
    assert counts[("brand_query", "spotify")] == 6 and counts[("brand_query", "deezer")] == 6
    assert counts[("entity", "spotify")] == 6 and counts[("hashtag", "wrapped")] == 12

    timeline = client.execute(*_query(q.timeline(db, at=AT, terms=["spotify"], since="1h", interval="1h")))
    assert [(r[2], r[3], r[4], r[5]) for r in timeline] == [(6, 2, 2, 2)]  # posts, positive, neutral, negative

    share = client.execute(*_query(q.share_of_voice(db, at=AT, brand_queries=["spotify", "deezer"], since="1h")))
    assert sorted((r[0], r[1], r[2]) for r in share) == [("deezer", 6, 0.5), ("spotify", 6, 0.5)]

    volume = client.execute(*_query(q.volume(db, at=AT, by="network", since="1h")))
    assert volume == [("x", 12, 3)]

    top = client.execute(*_query(q.top_posts(db, at=AT, term="spotify", kind="brand_query", since="1h", limit=10)))
    assert [r[-1] for r in top] == ["x:10", "x:8", "x:6", "x:4", "x:2", "x:0"]

    # The flattened rows collapse on merge; uniqExact is exact before that.
    (flat,), = client.execute(f"SELECT uniqExact(event_id) FROM {db}.event_topics WHERE topic = 'spotify'")
    assert flat == 6

    # The hourly rollups (0005) hold sets too: three deliveries, one element each, before and after merges.
    hourly = f"SELECT uniqExactMerge(posts) FROM {db}.topic_hour WHERE term = 'spotify'"
    assert client.execute(hourly) == [(6,)]
    assert client.execute(f"SELECT uniqExactMerge(authors) FROM {db}.volume_hour") == [(3,)]
    client.execute(f"OPTIMIZE TABLE {db}.topic_hour FINAL")
    assert client.execute(hourly) == [(6,)]

    # Re-running 0005's backfill (as on a live pipeline that had data before the migration) changes nothing.
    for statement in _backfill("0005_trends_hourly.sql"):
        client.execute(statement.format(db=db))
    assert client.execute(hourly) == [(6,)]
    rising_again = client.execute(*_query(q.rising(db, at=AT, kind="all", min_count=1, limit=50)))
    assert rising_again == rising
    # Precomputed baselines (0006): computed twice (two versions of the rows), read once; current from events.
    for _ in range(2):
        for statement in q.refresh_baselines(db, q.plan_rising(at=AT).baseline_key):
            client.execute(statement.sql, statement.params)
    fast = client.execute(*_query(q.rising(db, at=AT, kind="all", min_count=1, limit=50, precomputed=True)))
    assert fast == rising

    # A reference time off the hour: whole hours from the hourly rollups, edge minutes per minute.
    later = AT + timedelta(minutes=17)
    timeline = client.execute(*_query(q.timeline(db, at=later, terms=["spotify"], since="3h", interval="1h")))
    assert sum(r[2] for r in timeline) == 6 and sum(r[5] for r in timeline) == 2
    assert client.execute(*_query(q.volume(db, at=later, by="network", since="2h"))) == [("x", 12, 3)]
    share = client.execute(*_query(q.share_of_voice(db, at=later, brand_queries=["spotify", "deezer"], since="90m")))
    assert sorted((r[0], r[1]) for r in share) == [("deezer", 6), ("spotify", 6)]


def _backfill(name: str) -> list[str]:
    (migration,) = [m for m in load_migrations() if m.name == name]
    return [s.sql for s in migration.statements if s.sql.startswith("INSERT INTO")]


def _query(query: q.TrendQuery) -> tuple[str, dict]:
    return query.sql, query.params


def test_trends_cli_rising_puts_the_injected_spike_first(pipeline):
    client, db = pipeline.clickhouse(), pipeline.settings.clickhouse.database
    for sql in insert_statements(db, rows=40_000, days=3, end=AT, chunk=20_000, duplicates=5):
        client.execute(sql)
    result = _cli(pipeline, "trends", "rising", "--since", "1h")  # --at latest: the end of the data
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "until 2026-11-25T12:00:00Z" in lines[0]
    assert lines[3].split()[:2] == ["hashtag", "spotifydown"]
    assert {tuple(line.split()[:2]) for line in lines[4:6]} == {("entity", "spotify"), ("brand_query", "spotify")}

    result = _cli(pipeline, "trends", "rising", "--kind", "brand_query", "--format", "json",
                  "--at", "2026-11-25T12:00:00Z")
    payload = json.loads(result.stdout)
    assert payload["rows"][0]["term"] == "spotify" and payload["rows"][0]["z"] > 10

    # The CLI computed the precomputed baselines it needed; they give the same ranking as merging the hourly
    # rollups at query time, on the hour and off it (5% of the events were delivered twice).
    for at in (AT, AT - timedelta(minutes=23)):
        assert ensure(client, db, q.plan_rising(at=at).baseline_key, tuple(q.KINDS))
        slow = client.execute(*_query(q.rising(db, at=at, kind="all", limit=50)))
        fast = client.execute(*_query(q.rising(db, at=at, kind="all", limit=50, precomputed=True)))
        assert fast == slow and fast[0][:2] == ("hashtag", "spotifydown")
    result = _cli(pipeline, "trends", "refresh-baselines", "--hours", "3")
    assert result.returncode == 0 and result.stdout.count("rising baseline ending") == 3, result.stderr

    for args in (["timeline", "spotify", "apple_music"], ["share"], ["top-posts", "spotifydown", "--kind", "hashtag"],
                 ["volume", "--by", "language", "--interval", "6h"]):
        result = _cli(pipeline, "trends", *args)
        assert result.returncode == 0 and len(result.stdout.splitlines()) > 3, (args, result.stderr)


def test_trends_cli_rejects_bad_arguments_clearly(pipeline):
    result = _cli(pipeline, "trends", "rising", "--since", "5x", "--at", "now")
    assert result.returncode == 2 and "not a duration like 15m" in result.stderr
    result = _cli(pipeline, "trends", "rising")  # empty database, --at latest
    assert result.returncode == 2 and "no data" in result.stderr


def test_trends_retention_drops_only_whole_old_months(pipeline):
    client, db = pipeline.clickhouse(), pipeline.settings.clickhouse.database
    _insert(client, db, [_event(1, datetime(2025, 1, 10, tzinfo=UTC), "neutral", ["spotify"], ["old"]),
                         _event(2, AT, "neutral", ["spotify"], ["new"])])
    drops = plan(client, db, days=30, now=AT)
    assert {d.partition for d in drops} == {"202501"}
    assert {d.table for d in drops} >= {"topic_minute", "event_hashtags", "volume_minute", "topic_hour",
                                        "volume_hour"}
    apply(client, db, drops)
    assert client.execute(f"SELECT DISTINCT tag FROM {db}.event_hashtags") == [("new",)]
    assert plan(client, db, days=30, now=AT) == []
    (events,), = client.execute(f"SELECT count() FROM {db}.events")
    assert events == 2  # raw events are kept unless named with --tables
