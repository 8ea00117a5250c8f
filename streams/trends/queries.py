"""Trend queries as parameterised SQL over the deduplicated rollups (schemas/migrations/0002_trends.sql).

Builders validate their arguments and return a `TrendQuery`: SQL with clickhouse-driver placeholders
(``%(name)s``) and the parameter values, bound by the driver (escaped), never formatted into the text
from user input. The only names in the SQL text are the database (checked identifier) and table and
column names taken from the fixed `KINDS` table below.

Every query reads data that stays exact under redelivery: rollups merged with uniqExactMerge (a set
union of event_ids), or `events FINAL`. All SQL runs on ClickHouse 18.16 (no window functions, no
query parameters of the server, no LowCardinality) and on current ClickHouse.

Times are passed as Unix seconds (UTC) so that neither the server's nor the client's time zone matter;
bucket labels come back as 'YYYY-MM-DD HH:MM:SS' strings in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.clickhouse.client import check_identifier


class TrendQueryError(ValueError):
    """A trend query argument is invalid; the message says which and what is allowed."""


@dataclass(frozen=True)
class Kind:
    rollup: str  # per-minute AggregatingMergeTree: minute, term, sentiment_label, posts
    rows: str  # flattened ReplacingMergeTree: one row per (item, event)
    column: str  # the item column of `rows`


KINDS: Mapping[str, Kind] = {
    "entity": Kind("entity_minute", "event_entities", "canonical"),
    "hashtag": Kind("hashtag_minute", "event_hashtags", "tag"),
    "mention": Kind("mention_minute", "event_mentions", "mention"),
    "topic": Kind("topic_minute", "event_topics", "topic"),
}
VOLUME_DIMENSIONS: Mapping[str, str] = {"network": "network", "language": "language",
                                        "sentiment": "sentiment_label"}

MAX_TERMS = 50
MAX_LIMIT = 10_000
MAX_TERM_CHARS = 200
MAX_RANGE = timedelta(days=400)
MAX_BUCKETS = 20_000
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class TrendQuery:
    name: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()


def parse_duration(text: str | timedelta, *, what: str = "duration") -> timedelta:
    """'90m', '1h', '24h', '7d', '2w' -> timedelta; whole minutes only, at least one minute."""
    if isinstance(text, timedelta):
        value = text
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise TrendQueryError(f"{what}: {text!r} is not a duration like 15m, 1h, 24h, 7d or 2w")
        value = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    seconds = value.total_seconds()
    if seconds < 60 or seconds % 60:
        raise TrendQueryError(f"{what}: must be a whole number of minutes, at least 1m (got {value})")
    if value > MAX_RANGE:
        raise TrendQueryError(f"{what}: at most {MAX_RANGE.days}d (got {value})")
    return value


def parse_at(text: str) -> datetime:
    """An ISO 8601 reference time; naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TrendQueryError(f"--at: {text!r} is not an ISO 8601 time such as 2026-11-25T18:00:00Z, "
                              "'now' or 'latest'") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise TrendQueryError(f"kind {kind!r} is not one of {', '.join(KINDS)}") from None


def check_terms(terms: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
    if not cleaned:
        raise TrendQueryError("give at least one term")
    if len(cleaned) > MAX_TERMS:
        raise TrendQueryError(f"at most {MAX_TERMS} terms (got {len(cleaned)})")
    for term in cleaned:
        if len(term) > MAX_TERM_CHARS:
            raise TrendQueryError(f"term longer than {MAX_TERM_CHARS} characters: {term[:40]!r}...")
    return cleaned


def check_limit(limit: int, *, what: str = "limit") -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise TrendQueryError(f"{what} must be between 1 and {MAX_LIMIT} (got {limit})")
    return limit


def _minute_floor(at: datetime) -> int:
    if at.tzinfo is None:
        raise TrendQueryError("reference time must be timezone-aware")
    ts = int(at.timestamp())
    return ts - ts % 60


def _range(at: datetime, since: timedelta | str) -> tuple[int, int]:
    end = _minute_floor(at)
    return end - int(parse_duration(since, what="since").total_seconds()), end


def _interval(interval: timedelta | str, start: int, end: int) -> int:
    seconds = int(parse_duration(interval, what="interval").total_seconds())
    if (end - start) // seconds > MAX_BUCKETS:
        raise TrendQueryError(f"interval {interval} gives more than {MAX_BUCKETS} buckets; use a longer one")
    return seconds


def _bucket(seconds_param: str = "interval") -> str:
    # Buckets aligned to the Unix epoch (whole UTC hours/days), labelled in UTC.
    return f"toString(toDateTime(intDiv(toUInt32(minute), %({seconds_param})s) * %({seconds_param})s), 'UTC')"


def _rising_source(db: str, kind: str) -> str:
    spec = KINDS[kind]
    return (
        f"SELECT '{kind}' AS kind, term, "
        f"intDiv(%(end)s - 1 - toUInt32(minute), %(window)s) AS k, uniqExactMerge(posts) AS c "
        f"FROM {db}.{spec.rollup} "
        f"WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) "
        f"AND term IN (SELECT term FROM {db}.{spec.rollup} "
        f"WHERE minute >= toDateTime(%(current_start)s) AND minute < toDateTime(%(end)s) "
        f"GROUP BY term HAVING uniqExactMerge(posts) >= %(min_count)s) "
        f"GROUP BY term, k"
    )


def rising(database: str, *, at: datetime, window: timedelta | str = "1h", baseline: timedelta | str = "24h",
           kind: str = "all", min_count: int = 5, limit: int = 20) -> TrendQuery:
    """Terms whose count in the window ending at `at` is furthest above their trailing baseline.

    The baseline is split into buckets as long as the window (24h / 1h = 24 buckets); empty buckets
    count as zero. z = (current - mean) / max(stddev, sqrt(mean), 1): the sqrt(mean) floor (Poisson
    noise) keeps a term with a flat, tiny baseline from getting an infinite score. Only terms with at
    least `min_count` posts in the current window are scored (and only those are read for the baseline).
    """
    db = check_identifier(database)
    win = parse_duration(window, what="window")
    base = parse_duration(baseline, what="baseline")
    if base % win:
        raise TrendQueryError(f"baseline ({base}) must be a whole number of windows ({win})")
    buckets = base // win
    if buckets < 2:
        raise TrendQueryError(f"baseline must span at least 2 windows (got {buckets})")
    if min_count < 1:
        raise TrendQueryError(f"min_count must be at least 1 (got {min_count})")
    kinds = list(KINDS) if kind == "all" else [kind]
    for k in kinds:
        check_kind(k)
    end = _minute_floor(at)
    window_s = int(win.total_seconds())
    params = {"end": end, "start": end - window_s * (buckets + 1), "current_start": end - window_s,
              "window": window_s, "buckets": buckets, "min_count": min_count, "limit": check_limit(limit)}
    source = " UNION ALL ".join(_rising_source(db, k) for k in kinds)
    sql = (
        "SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std, "
        "round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z "
        "FROM ("
        "SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / %(buckets)s AS mean, "
        "sqrt(greatest(sumIf(c * c, k > 0) / %(buckets)s - pow(sumIf(c, k > 0) / %(buckets)s, 2), 0)) AS std "
        f"FROM ({source}) "
        "GROUP BY kind, term"
        ") WHERE current >= %(min_count)s "
        "ORDER BY z DESC, current DESC, kind, term LIMIT %(limit)s"
    )
    return TrendQuery("rising", sql, params, ("kind", "term", "current", "baseline_mean", "baseline_std", "z"))


def timeline(database: str, *, at: datetime, terms: Sequence[str], kind: str = "topic",
             since: timedelta | str = "24h", interval: timedelta | str = "1h") -> TrendQuery:
    """Posts and sentiment per interval for each term. net_sentiment = (positive - negative) / posts.

    Buckets without posts are absent (BI tools fill gaps; the CLI prints what exists).
    """
    db = check_identifier(database)
    spec = check_kind(kind)
    start, end = _range(at, since)
    params = {"start": start, "end": end, "interval": _interval(interval, start, end), "terms": check_terms(terms)}
    sql = (
        f"SELECT {_bucket()} AS bucket, term, uniqExactMerge(posts) AS total, "
        "uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive, "
        "uniqExactMergeIf(posts, sentiment_label = 'neutral') AS neutral, "
        "uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative, "
        "round((positive - negative) / total, 3) AS net_sentiment "
        f"FROM {db}.{spec.rollup} "
        "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) AND term IN %(terms)s "
        "GROUP BY bucket, term ORDER BY bucket, term"
    )
    return TrendQuery("timeline", sql, params,
                      ("bucket", "term", "posts", "positive", "neutral", "negative", "net_sentiment"))


def share_of_voice(database: str, *, at: datetime, topics: Sequence[str], since: timedelta | str = "24h") -> TrendQuery:
    """Each tracked topic's posts as a share of all tracked-topic mentions (shares add up to 1).

    A post about two brands counts for both (that is how share of voice is usually defined).
    """
    db = check_identifier(database)
    start, end = _range(at, since)
    params = {"start": start, "end": end, "topics": check_terms(topics)}
    where = ("WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) "
             "AND term IN %(topics)s")
    sql = (
        "SELECT term, total, round(total / (SELECT sum(c) FROM (SELECT uniqExactMerge(posts) AS c "
        f"FROM {db}.topic_minute {where} GROUP BY term)), 4) AS share, positive, negative, "
        "round((positive - negative) / total, 3) AS net_sentiment FROM ("
        "SELECT term, uniqExactMerge(posts) AS total, "
        "uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive, "
        "uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative "
        f"FROM {db}.topic_minute {where} GROUP BY term"
        ") ORDER BY total DESC, term"
    )
    return TrendQuery("share", sql, params, ("topic", "posts", "share", "positive", "negative", "net_sentiment"))


def top_posts(database: str, *, at: datetime, term: str, kind: str = "topic", since: timedelta | str = "24h",
              limit: int = 10) -> TrendQuery:
    """The most engaging posts mentioning `term`; engagement = likes + reposts + replies + quotes.

    Candidates come from the flattened rows (pruned by the (item, created_at) key); the posts
    themselves from `events FINAL`, so a redelivered post appears once with its latest counters.
    """
    db = check_identifier(database)
    spec = check_kind(kind)
    (checked,) = check_terms([term])
    start, end = _range(at, since)
    params = {"start": start, "end": end, "term": checked, "limit": check_limit(limit)}
    sql = (
        "SELECT toString(created_at, 'UTC') AS created, network, author_handle, "
        "likes + reposts + replies + quotes AS engagement, sentiment_label, "
        "replaceRegexpAll(substringUTF8(text, 1, 100), '\\\\s+', ' ') AS text_start, url, event_id "
        f"FROM {db}.events FINAL "
        "WHERE created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s) "
        f"AND event_id IN (SELECT event_id FROM {db}.{spec.rows} WHERE {spec.column} = %(term)s "
        "AND created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s)) "
        "ORDER BY engagement DESC, created_at DESC, event_id LIMIT %(limit)s"
    )
    return TrendQuery("top-posts", sql, params,
                      ("created", "network", "author", "engagement", "sentiment", "text", "url", "event_id"))


def volume(database: str, *, at: datetime, by: str = "network", since: timedelta | str = "24h",
           interval: timedelta | str | None = None) -> TrendQuery:
    """Distinct posts and distinct authors by network, language or sentiment; per interval if given."""
    db = check_identifier(database)
    if by not in VOLUME_DIMENSIONS:
        raise TrendQueryError(f"by {by!r} is not one of {', '.join(VOLUME_DIMENSIONS)}")
    column = VOLUME_DIMENSIONS[by]
    start, end = _range(at, since)
    params: dict[str, Any] = {"start": start, "end": end}
    where = "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s)"
    if interval is None:
        sql = (f"SELECT {column} AS {by}, uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors "
               f"FROM {db}.volume_minute {where} GROUP BY {by} ORDER BY total DESC, {by}")
        return TrendQuery("volume", sql, params, (by, "posts", "authors"))
    params["interval"] = _interval(interval, start, end)
    sql = (f"SELECT {_bucket()} AS bucket, {column} AS {by}, uniqExactMerge(posts) AS total, "
           f"uniqExactMerge(authors) AS authors FROM {db}.volume_minute {where} "
           f"GROUP BY bucket, {by} ORDER BY bucket, total DESC, {by}")
    return TrendQuery("volume", sql, params, ("bucket", by, "posts", "authors"))


def latest_minute(database: str) -> TrendQuery:
    """The newest minute with data (0 when empty): the default reference time is its end."""
    db = check_identifier(database)
    return TrendQuery("latest", f"SELECT toUInt32(max(minute)) FROM {db}.volume_minute", {}, ("minute",))


def render_sql(query: TrendQuery) -> str:
    """The query with its parameters substituted by clickhouse-driver's own escaping, for transports
    that take plain SQL text (HTTP, chdb). clickhouse-driver does exactly this before sending a query."""
    from clickhouse_driver.util.escape import escape_params

    return query.sql % escape_params(query.params, None) if query.params else query.sql
