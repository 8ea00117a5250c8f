"""Trend query builders: validation with clear errors, parameters bound (never formatted into SQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.cli import build_parser
from streams.cli.trends import KIND_NAMES
from streams.trends import queries as q
from streams.trends.access import migration_substitutions, sql_string_body
from streams.trends.retention import month_end

AT = datetime(2026, 11, 25, 12, 30, 45, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [("1m", 60), ("15m", 900), ("1h", 3600), ("24h", 86400),
                                               ("7d", 604800), ("2w", 1209600), (" 90 MIN ", 5400)])
def test_trends_parse_duration(text, seconds):
    assert q.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "1s", "h", "-1h", "1.5h", "0m", "1y", "401d", "1h; DROP TABLE x"])
def test_trends_parse_duration_rejects(text):
    with pytest.raises(q.TrendQueryError, match="duration|minute|at most"):
        q.parse_duration(text)


def test_trends_parse_at_defaults_to_utc_and_rejects_garbage():
    assert q.parse_at("2026-11-25T12:00:00") == datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert q.parse_at("2026-11-25T13:00:00+01:00").astimezone(UTC).hour == 12
    assert q.parse_at("2026-11-25T12:00:00Z").tzinfo is not None
    with pytest.raises(q.TrendQueryError, match="ISO 8601"):
        q.parse_at("yesterday")


def test_trends_rising_buckets_and_params():
    query = q.rising("socialpulse", at=AT, window="1h", baseline="24h", kind="brand_query", min_count=3, limit=7)
    end = int(datetime(2026, 11, 25, 12, 30, tzinfo=UTC).timestamp())  # floored to the minute
    hour = int(datetime(2026, 11, 25, 11, tzinfo=UTC).timestamp())  # the hour the current window starts in
    assert query.params == {"end": end, "current_start": end - 3600, "baseline_end": hour,
                            "start": hour - 24 * 3600, "filter_start": hour, "window": 3600, "buckets": 24,
                            "min_count": 3, "limit": 7}
    # current window per minute, baseline per hour, pre-filter from the hourly rollup
    assert "socialpulse.topic_minute" in query.sql and "socialpulse.topic_hour" in query.sql
    assert "entity_minute" not in query.sql and "entity_hour" not in query.sql
    assert "OVER" not in query.sql.upper().replace("OVERALL", "")  # no window functions (18.16)
    assert query.sql.count("UNION ALL") == 1  # current + baseline
    assert q.rising("db", at=AT).sql.count("UNION ALL") == 7  # kind=all: four kinds, two parts each


def test_trends_rising_windows_of_minutes_keep_a_minute_baseline():
    query = q.rising("db", at=AT, window="15m", baseline="6h", kind="hashtag")
    end = int(datetime(2026, 11, 25, 12, 30, tzinfo=UTC).timestamp())
    assert query.params["baseline_end"] == query.params["current_start"] == end - 900
    assert query.params["start"] == end - 900 - 24 * 900
    assert "db.hashtag_hour WHERE hour >= toDateTime(%(filter_start)s)" in query.sql  # pre-filter only
    assert "FROM db.hashtag_minute WHERE minute >= toDateTime(%(start)s)" in query.sql  # baseline per minute


@pytest.mark.parametrize(("start", "end", "hours"), [
    (0, 7200, (0, 7200)),  # whole hours only
    (600, 11_400, (3600, 10_800)),  # minutes at both edges
    (600, 3000, (3000, 3000)),  # inside one hour: minutes only
    (600, 4200, (4200, 4200)),  # across an hour boundary but no whole hour: minutes only
])
def test_trends_split_hours(start, end, hours):
    assert q._split_hours(start, end) == hours
    h_start, h_end = hours
    covered = set(range(h_start, h_end, 60)) | set(range(start, h_start, 60)) | set(range(h_end, end, 60))
    assert covered == set(range(start, end, 60))  # hours + edges cover the range once


def test_trends_long_ranges_read_hours_plus_edge_minutes():
    timeline = q.timeline("db", at=AT, terms=["a"], kind="entity", since="7d", interval="1h")
    assert "db.entity_hour" in timeline.sql and "db.entity_minute" in timeline.sql
    assert timeline.params["h_end"] - timeline.params["h_start"] == 7 * 86_400 - 3600
    short = q.timeline("db", at=AT, terms=["a"], kind="entity", since="2h", interval="15m")
    assert "entity_hour" not in short.sql
    volume = q.volume("db", at=AT, by="network")
    assert "db.volume_hour" in volume.sql and "cityHash64(author_id)" in volume.sql  # authors: one set
    assert "volume_hour" not in q.volume("db", at=AT, since="1h", interval="5m").sql


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"window": "1h", "baseline": "90m"}, "whole number of windows"),
    ({"window": "1h", "baseline": "1h"}, "at least 2 windows"),
    ({"kind": "author"}, "kind 'author' is not one of"),
    ({"min_count": 0}, "min_count"),
    ({"limit": 0}, "limit"),
])
def test_trends_rising_validation(kwargs, message):
    with pytest.raises(q.TrendQueryError, match=message):
        q.rising("socialpulse", at=AT, **kwargs)


def test_trends_user_text_is_a_parameter_never_sql():
    evil = "x') OR 1=1 --"
    query = q.top_posts("socialpulse", at=AT, term=evil, kind="hashtag")
    assert evil not in query.sql and query.params["term"] == evil
    rendered = q.render_sql(query)
    assert "'x\\') OR 1=1 --'" in rendered  # escaped by clickhouse-driver's own escaping
    timeline = q.timeline("socialpulse", at=AT, terms=[evil, "b"], kind="entity")
    assert evil not in timeline.sql and timeline.params["terms"] == (evil, "b")


@pytest.mark.parametrize("database", ["socialpulse; DROP", "a.b", "", "1abc"])
def test_trends_database_must_be_an_identifier(database):
    with pytest.raises(ValueError, match="identifier"):
        q.volume(database, at=AT)


def test_trends_terms_and_intervals_are_bounded():
    with pytest.raises(q.TrendQueryError, match="at least one term"):
        q.timeline("db", at=AT, terms=[" ", ""])
    with pytest.raises(q.TrendQueryError, match="at most 50 terms"):
        q.timeline("db", at=AT, terms=[f"t{i}" for i in range(51)])
    with pytest.raises(q.TrendQueryError, match="buckets"):
        q.volume("db", at=AT, since="400d", interval="1m")
    with pytest.raises(q.TrendQueryError, match="by 'author'"):
        q.volume("db", at=AT, by="author")
    assert q.timeline("db", at=AT, terms=["a", "a", "b"]).params["terms"] == ("a", "b")


def test_trends_volume_and_share_sql_shapes():
    totals = q.volume("db", at=AT, by="sentiment", since="1h")
    assert "sentiment_label AS sentiment" in totals.sql and "interval" not in totals.params
    per_hour = q.volume("db", at=AT, by="network", since="24h", interval="1h")
    assert per_hour.params["interval"] == 3600 and per_hour.columns[0] == "bucket"
    share = q.share_of_voice("db", at=AT, brand_queries=["spotify", "deezer"])
    assert share.sql.count("%(brand_queries)s") == 4 and "uniqExactMerge" in share.sql  # (hours + edges) x 2


def test_trends_every_query_reads_deduplicated_data():
    for query in (q.rising("db", at=AT), q.timeline("db", at=AT, terms=["a"]), q.volume("db", at=AT),
                  q.share_of_voice("db", at=AT, brand_queries=["a"])):
        assert "uniqExactMerge" in query.sql and "count()" not in query.sql
    top = q.top_posts("db", at=AT, term="a").sql
    assert "GROUP BY event_id" in top and "argMax(likes + reposts + replies + quotes, enriched_at)" in top


def test_trends_bi_password_substitution_is_escaped():
    assert sql_string_body("it's \\ ok") == "it\\'s \\\\ ok"
    assert migration_substitutions({}) == {"bi_password": "socialpulse-bi-dev"}
    assert migration_substitutions({"SOCIALPULSE_CLICKHOUSE_BI_PASSWORD": "a'b"}) == {"bi_password": "a\\'b"}


@pytest.mark.parametrize(("partition", "end"), [("202601", datetime(2026, 2, 1, tzinfo=UTC)),
                                                ("202612", datetime(2027, 1, 1, tzinfo=UTC)),
                                                ("202613", None), ("all", None), ("20260101", None)])
def test_trends_retention_month_end(partition, end):
    assert month_end(partition) == end


def test_trends_rising_precomputed_reads_baseline_rows_and_counts_the_window_from_events():
    query = q.rising("db", at=AT, kind="all", precomputed=True)
    hour = int(datetime(2026, 11, 25, 11, tzinfo=UTC).timestamp())
    assert query.params["baseline_end"] == hour and query.params["kinds"] == tuple(q.KINDS)
    assert "db.rising_baselines FINAL" in query.sql and "ANY LEFT JOIN" in query.sql
    assert query.sql.count("FROM db.events") == 4 and "uniqExact(h)" in query.sql  # one scan per kind
    assert "_hour" not in query.sql and "_minute" not in query.sql  # no set of the baseline is merged
    assert q.rising("db", at=AT, kind="brand_query", precomputed=True).params["kinds"] == ("brand_query",)
    with pytest.raises(q.TrendQueryError, match="whole hours"):
        q.rising("db", at=AT, window="15m", baseline="6h", precomputed=True)


def test_trends_rising_plan_baseline_key():
    hour = int(datetime(2026, 11, 25, 11, tzinfo=UTC).timestamp())
    assert q.plan_rising(at=AT).baseline_key == (hour, 3600, 24)
    assert q.plan_rising(at=AT, window="2h", baseline="48h").baseline_key == (hour - 3600, 7200, 24)
    assert q.plan_rising(at=AT, window="30m", baseline="12h").baseline_key is None


def test_trends_refresh_baselines_one_insert_per_kind_from_the_hourly_rollups():
    hour = int(datetime(2026, 11, 25, 11, tzinfo=UTC).timestamp())
    statements = q.refresh_baselines("db", (hour, 3600, 24))
    assert [s.sql.split("FROM db.")[1].split()[0] for s in statements] == [
        "entity_hour", "hashtag_hour", "mention_hour", "topic_hour"]
    assert all(s.sql.startswith("INSERT INTO db.rising_baselines") and "uniqExactMerge(posts)" in s.sql
               for s in statements)
    assert statements[0].params == {"baseline_end": hour, "start": hour - 24 * 3600, "window": 3600, "buckets": 24}
    with pytest.raises(q.TrendQueryError, match="whole hours"):
        q.refresh_baselines("db", (hour + 60, 3600, 24))


def test_trends_cli_kinds_are_the_query_kinds_and_topic_is_still_accepted():
    parser = build_parser()
    assert KIND_NAMES == tuple(q.KINDS)
    assert parser.parse_args(["trends", "timeline", "nimbus", "--kind", "topic"]).kind == "brand_query"
    assert parser.parse_args(["trends", "top-posts", "nimbus"]).kind == "brand_query"
    assert parser.parse_args(["trends", "rising", "--kind", "hashtag"]).kind == "hashtag"
    with pytest.raises(SystemExit):
        parser.parse_args(["trends", "rising", "--kind", "brand"])
