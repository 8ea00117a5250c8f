"""Contract: every migration statement (the `-- requires:` gated ones too), every trend query and every
documented BI query run on current ClickHouse (chdb: in-process ClickHouse from PyPI), so deployments
on new servers get the same SQL the local 18.16 runs. Results are checked against ground truth
computed from the raw `events`, with redelivered (duplicate) events in the data.

chdb has no writable access storage (users, roles, profiles, quotas): those statements of
0004_bi_access.sql are checked with EXPLAIN AST (parsed by the current grammar) and must fail only
for lack of access storage or privileges, never for syntax.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from streams.settings import REPO_ROOT
from streams.sinks.clickhouse.migrate import load_migrations
from streams.trends import bi_sql
from streams.trends import queries as q
from streams.trends.access import migration_substitutions
from streams.trends.synthetic import insert_statements

chdb_session = pytest.importorskip("chdb.session")

DB = "socialpulse"  # the documented BI SQL names it
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # recent: TTLs apply here
ROWS = 20_000
ACCESS_CONTROL = re.compile(r"^\s*(CREATE\s+(USER|ROLE|SETTINGS\s+PROFILE|QUOTA)|GRANT)\b", re.IGNORECASE)
ACCESS_ERRORS = ("ACCESS_DENIED", "ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND", "UNKNOWN_ROLE", "UNKNOWN_USER",
                 "THERE_IS_NO_PROFILE")


class Chdb:
    def __init__(self, path: str) -> None:
        self.session = chdb_session.Session(f"{path}?output_format_json_quote_64bit_integers=0")

    def execute(self, sql: str) -> None:
        self.session.query(sql)

    def rows(self, sql: str) -> list[list]:
        out = self.session.query(sql, "JSONCompact")
        text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
        return json.loads(text)["data"] if text.strip() else []


@pytest.fixture(scope="module")
def ch(tmp_path_factory) -> Chdb:
    client = Chdb(str(tmp_path_factory.mktemp("chdb") / "data"))
    client.execute(f"CREATE DATABASE IF NOT EXISTS {DB}")
    values = {"db": DB, **migration_substitutions({"SOCIALPULSE_CLICKHOUSE_BI_PASSWORD": "it's a \\ test"})}
    for migration in load_migrations():
        for statement in migration.statements:
            sql = statement.sql.format(**values)
            if ACCESS_CONTROL.match(sql):
                client.rows(f"EXPLAIN AST {sql}")  # raises on a syntax error
                try:
                    client.execute(sql)
                except Exception as exc:  # noqa: BLE001 - chdb cannot store access entities
                    assert any(code in str(exc) for code in ACCESS_ERRORS), f"{migration.name}: {sql}\n{exc}"
                continue
            client.execute(sql)
    for sql in insert_statements(DB, rows=ROWS, days=3, end=END, chunk=ROWS // 2, duplicates=10):
        client.execute(sql)
    return client


def test_contract_every_migration_applies_and_builds_the_rollups(ch):
    tables = {r[0] for r in ch.rows(f"SELECT name FROM system.tables WHERE database = '{DB}'")}
    for name in ("event_entities", "event_hashtags", "event_mentions", "event_topics", "volume_minute",
                 "entity_minute", "hashtag_minute", "mention_minute", "topic_minute", "volume_hour",
                 "entity_hour", "hashtag_hour", "mention_hour", "topic_hour"):
        assert name in tables and f"{name}_mv" in tables
    for name in ("topic_minute", "topic_hour", "volume_hour"):
        ttl = ch.rows(f"SELECT engine_full FROM system.tables WHERE database = '{DB}' AND name = '{name}'")
        assert "TTL" in ttl[0][0], name
    (events, distinct), = ch.rows(f"SELECT count(), uniqExact(event_id) FROM {DB}.events")
    assert distinct == ROWS and events > ROWS  # duplicates were inserted


def _render(query: q.TrendQuery) -> str:
    return q.render_sql(query)


def test_contract_rising_puts_the_spike_first_and_counts_exactly(ch):
    rows = ch.rows(_render(q.rising(DB, at=END, window="1h", baseline="24h", kind="all", limit=5)))
    assert rows[0][:2] == ["hashtag", "spotifydown"]
    assert {tuple(r[:2]) for r in rows[:3]} >= {("entity", "spotify"), ("brand_query", "spotify")}
    truth = ch.rows(f"SELECT uniqExact(event_id) FROM {DB}.events ARRAY JOIN topics AS t WHERE t = 'spotify' "
                    f"AND created_at >= toDateTime({int(END.timestamp()) - 3600}) "
                    f"AND created_at < toDateTime({int(END.timestamp())})")[0][0]
    brand = next(r for r in rows if r[:2] == ["brand_query", "spotify"])
    assert brand[2] == truth


def test_contract_rising_hourly_baseline_matches_raw_events(ch):
    at = END - timedelta(minutes=23)  # off the hour: current window per minute, baseline = whole hours
    query = q.rising(DB, at=at, window="1h", baseline="24h", kind="brand_query", min_count=1, limit=50)
    rows = {r[1]: r for r in ch.rows(_render(query))}
    p = query.params
    counts = ch.rows(
        f"SELECT t, intDiv({p['baseline_end']} - 1 - toUInt32(created_at), 3600) + 1 AS k, uniqExact(event_id) "
        f"FROM {DB}.events ARRAY JOIN topics AS t WHERE t = 'spotify' AND created_at >= toDateTime({p['start']}) "
        f"AND created_at < toDateTime({p['baseline_end']}) GROUP BY t, k")
    per_bucket = [c for _t, _k, c in counts] + [0] * (24 - len(counts))
    mean = sum(per_bucket) / 24
    assert rows["spotify"][3] == round(mean, 2)
    current = ch.rows(f"SELECT uniqExact(event_id) FROM {DB}.events ARRAY JOIN topics AS t WHERE t = 'spotify' "
                      f"AND created_at >= toDateTime({p['current_start']}) AND created_at < toDateTime({p['end']})")
    assert rows["spotify"][2] == current[0][0]


@pytest.mark.parametrize("minutes_off_the_hour", [0, 23])
def test_contract_rising_precomputed_baselines_equal_the_rollups(ch, minutes_off_the_hour):
    at = END - timedelta(minutes=minutes_off_the_hour)
    for statement in q.refresh_baselines(DB, q.plan_rising(at=at).baseline_key):
        ch.execute(_render(statement))
    slow = ch.rows(_render(q.rising(DB, at=at, kind="all", limit=50)))
    fast = ch.rows(_render(q.rising(DB, at=at, kind="all", limit=50, precomputed=True)))
    assert fast == slow and fast[0][:2] == ["hashtag", "spotifydown"]


@pytest.mark.parametrize("minutes_off_the_hour", [0, 23])
def test_contract_timeline_share_volume_match_raw_events(ch, minutes_off_the_hour):
    at = END - timedelta(minutes=minutes_off_the_hour)
    start, end = int(at.timestamp()) - 86_400, int(at.timestamp())
    window = f"created_at >= toDateTime({start}) AND created_at < toDateTime({end})"
    timeline = ch.rows(_render(q.timeline(DB, at=at, terms=["spotify", "deezer"], kind="brand_query", since="24h",
                                          interval="1h")))
    # deezer is sparse: empty hours are absent; off the hour, 24 h touch 25 clock hours
    assert sum(1 for r in timeline if r[1] == "spotify") == (25 if minutes_off_the_hour else 24)
    truth = dict(ch.rows(f"SELECT t, uniqExact(event_id) FROM {DB}.events ARRAY JOIN topics AS t WHERE {window} "
                         "GROUP BY t"))
    per_term: dict[str, int] = {}
    for _bucket, term, posts, pos, neu, neg, net in timeline:
        assert posts == pos + neu + neg and -1 <= net <= 1
        per_term[term] = per_term.get(term, 0) + posts
    assert per_term == {"spotify": truth["spotify"], "deezer": truth["deezer"]}

    brands = ["spotify", "apple_music", "youtube_music", "deezer", "tidal", "amazon_music"]
    share = ch.rows(_render(q.share_of_voice(DB, at=at, brand_queries=brands, since="24h")))
    assert {r[0]: r[1] for r in share} == {b: truth[b] for b in brands if b in truth}
    assert abs(sum(r[2] for r in share) - 1) < 0.01

    volume = {r[0]: (r[1], r[2]) for r in ch.rows(_render(q.volume(DB, at=at, by="network", since="24h")))}
    assert volume == {r[0]: (r[1], r[2]) for r in ch.rows(
        f"SELECT network, uniqExact(event_id), uniqExact(author_id) FROM {DB}.events WHERE {window} "
        "GROUP BY network")}
    per_hour = ch.rows(_render(q.volume(DB, at=at, by="language", since="24h", interval="1h")))
    assert sum(r[2] for r in per_hour) == sum(v[0] for v in volume.values())


def test_contract_top_posts_are_distinct_and_ordered(ch):
    rows = ch.rows(_render(q.top_posts(DB, at=END, term="spotifydown", kind="hashtag", since="2h", limit=20)))
    assert len(rows) == 20
    ids = [r[-1] for r in rows]
    assert len(set(ids)) == len(ids)
    engagement = [r[3] for r in rows]
    assert engagement == sorted(engagement, reverse=True)
    start, end = int(END.timestamp()) - 7200, int(END.timestamp())
    truth = ch.rows(f"SELECT event_id FROM {DB}.events FINAL WHERE created_at >= toDateTime({start}) "
                    f"AND created_at < toDateTime({end}) AND has(hashtags, 'spotifydown') "
                    "ORDER BY likes + reposts + replies + quotes DESC, created_at DESC, event_id LIMIT 20")
    assert ids == [r[0] for r in truth]  # the same posts as FINAL, without reading every post of the range


@pytest.mark.parametrize("minutes_earlier", [None, 37], ids=["newest-data", "replaced-by-37-minutes-earlier"])
@pytest.mark.parametrize("doc", bi_sql.DOCUMENTED, ids=lambda d: d.file)
def test_contract_documented_bi_sql_gives_what_its_builder_gives(ch, doc, minutes_earlier):
    """docs/sql/ (generated from the builders, their time parameters as offsets of a reference time) returns
    the rows of the builder's own query at that reference time: as shipped (the newest data), and with the
    reference replaced by another time, as the files tell users to do (off the hour, so the offsets of the
    reference and of its hour are told apart)."""
    sql = (REPO_ROOT / "docs" / "sql" / doc.file).read_text()
    (latest,), = ch.rows(q.render_sql(q.latest_minute(DB)))
    at = datetime.fromtimestamp(latest + 60, UTC)
    if minutes_earlier is not None:
        at -= timedelta(minutes=minutes_earlier)
        assert bi_sql.LATEST in sql
        sql = sql.replace(bi_sql.LATEST, str(int(at.timestamp())))
    if doc.reference == "hour":
        at = at.replace(minute=0)
    expected = ch.rows(_render(doc.build(at)))
    assert expected, "the contract data should give rows for every documented query"
    assert ch.rows(sql) == expected


def test_contract_insert_deduplication_token_stores_a_retried_block_once(ch):
    """Migration 0010 on a current server: the sink's retried INSERT (same token) lands once, its rollups too;
    another token with the same rows is another block (ReplacingMergeTree still collapses it in FINAL)."""
    def insert(token: str) -> None:
        ch.execute(f"INSERT INTO {DB}.events (event_id, network, kind, native_id, author_id, text, created_at, "
                   f"ingested_at, hashtags, enricher_version, enriched_at) "
                   f"SETTINGS insert_deduplication_token = '{token}', "
                   f"deduplicate_blocks_in_dependent_materialized_views = 1 VALUES "
                   f"('x:dedup-1', 'x', 'post', 'dedup-1', 'a', 't', now(), now(), ['dedupcheck'], 'v', now()), "
                   f"('x:dedup-2', 'x', 'post', 'dedup-2', 'a', 't', now(), now(), ['dedupcheck'], 'v', now())")

    def stored() -> tuple[int, int]:
        (rows,), = ch.rows(f"SELECT count() FROM {DB}.events WHERE event_id LIKE 'x:dedup-%'")
        (tags,), = ch.rows(f"SELECT count() FROM {DB}.event_hashtags WHERE tag = 'dedupcheck'")
        return rows, tags

    insert("social.enriched.v1/0:7-8|abc")
    insert("social.enriched.v1/0:7-8|abc")  # the retry
    assert stored() == (2, 2)
    insert("social.enriched.v1/0:9-10|def")
    assert stored() == (4, 4)
