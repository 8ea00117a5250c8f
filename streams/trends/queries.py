"""Trend queries as parameterised SQL over the deduplicated rollups (schemas/migrations/0002_trends.sql,
0005_trends_hourly.sql).

Builders validate their arguments and return a `TrendQuery`: SQL with clickhouse-driver placeholders
(``%(name)s``) and the parameter values, bound by the driver (escaped), never formatted into the text
from user input. The only names in the SQL text are the database (checked identifier) and table and
column names taken from the fixed `KINDS` table below.

Every query reads data that stays exact under redelivery: rollups merged with uniqExactMerge (a set
union of event_ids, or of their 64-bit hashes in the hourly rollups), or the latest version of each post in
`events` (argMax by enriched_at, the ReplacingMergeTree version).

Long ranges read whole hours from the hourly rollups and only the minutes at the edges of the range from
the per-minute rollups (or, for distinct authors, which do not add up across hours, from `events`): an
event lies in exactly one hour, so per-term counts of disjoint time ranges add up exactly.

All SQL runs on ClickHouse 18.16 (no window functions, no query parameters of the server, no
LowCardinality) and on current ClickHouse.

Times are passed as Unix seconds (UTC) so that neither the server's nor the client's time zone matter;
bucket labels come back as 'YYYY-MM-DD HH:MM:SS' strings in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.sinks.clickhouse.client import check_identifier


class TrendQueryError(ValueError):
    """A trend query argument is invalid; the message says which and what is allowed."""


@dataclass(frozen=True)
class Kind:
    rollup: str  # per-minute AggregatingMergeTree: minute, term, sentiment_label, posts (sets of event_id)
    hourly: str  # per-hour AggregatingMergeTree: hour, term, sentiment_label, posts (sets of cityHash64)
    rows: str  # flattened ReplacingMergeTree: one row per (item, event)
    column: str  # the item column of `rows`


KINDS: Mapping[str, Kind] = {
    "entity": Kind("entity_minute", "entity_hour", "event_entities", "canonical"),
    "hashtag": Kind("hashtag_minute", "hashtag_hour", "event_hashtags", "tag"),
    "mention": Kind("mention_minute", "mention_hour", "event_mentions", "mention"),
    # Brand queries keep their first name, "topic", in ClickHouse: 18.16 cannot rename a column, and renaming
    # the tables would break every BI query written against them (the mapping: docs/bi-queries.md).
    "brand_query": Kind("topic_minute", "topic_hour", "event_topics", "topic"),
}
HOUR = 3600
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


def _bucket(seconds_param: str = "interval", column: str = "minute") -> str:
    # Buckets aligned to the Unix epoch (whole UTC hours/days), labelled in UTC.
    return (f"toString(toDateTime(intDiv(toUInt32({column}), %({seconds_param})s) * %({seconds_param})s), "
            "'UTC')")


def _split_hours(start: int, end: int) -> tuple[int, int]:
    """The whole hours [h_start, h_end) inside [start, end); the edges [start, h_start) and [h_end, end)
    are read per minute. Without a whole hour: h_start = h_end = end (all minutes, no hours)."""
    h_start, h_end = -(-start // HOUR) * HOUR, end // HOUR * HOUR
    return (h_start, h_end) if h_start < h_end else (end, end)


_HOURS = "hour >= toDateTime(%(h_start)s) AND hour < toDateTime(%(h_end)s)"
_EDGE_MINUTES = ("((minute >= toDateTime(%(start)s) AND minute < toDateTime(%(h_start)s)) "
                 "OR (minute >= toDateTime(%(h_end)s) AND minute < toDateTime(%(end)s)))")


def _current_terms(db: str, spec: Kind) -> str:
    # Pre-filter: terms with at least min_count posts in the hours overlapping the current window, a
    # superset of the terms that can pass `current >= min_count` (read from the small hourly rollup).
    return (f"term IN (SELECT term FROM {db}.{spec.hourly} "
            "WHERE hour >= toDateTime(%(filter_start)s) AND hour < toDateTime(%(end)s) "
            "GROUP BY term HAVING uniqExactMerge(posts) >= %(min_count)s)")


def _rising_source(db: str, kind: str, *, hourly_baseline: bool) -> str:
    spec = KINDS[kind]
    current = (
        f"SELECT '{kind}' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c "
        f"FROM {db}.{spec.rollup} "
        "WHERE minute >= toDateTime(%(current_start)s) AND minute < toDateTime(%(end)s) "
        "GROUP BY term HAVING c >= %(min_count)s"
    )
    table, column = (spec.hourly, "hour") if hourly_baseline else (spec.rollup, "minute")
    baseline = (
        f"SELECT '{kind}' AS kind, term, "
        f"toUInt32(intDiv(%(baseline_end)s - 1 - toUInt32({column}), %(window)s) + 1) AS k, "
        "uniqExactMerge(posts) AS c "
        f"FROM {db}.{table} "
        f"WHERE {column} >= toDateTime(%(start)s) AND {column} < toDateTime(%(baseline_end)s) "
        f"AND {_current_terms(db, spec)} "
        "GROUP BY term, k"
    )
    return f"{current} UNION ALL {baseline}"


@dataclass(frozen=True)
class RisingPlan:
    """Validated rising arguments and the time boundaries they give (Unix seconds)."""
    kinds: tuple[str, ...]
    end: int  # end of the current window (the reference time, floored to the minute)
    window: int  # seconds
    buckets: int
    baseline_end: int  # whole hour before the current window (hourly baseline) or the window's start
    hourly: bool  # the window is whole hours: baseline from the hourly rollups / rising_baselines

    @property
    def baseline_key(self) -> tuple[int, int, int] | None:
        """The rising_baselines row set this baseline is, if it can be precomputed."""
        return (self.baseline_end, self.window, self.buckets) if self.hourly else None


def plan_rising(*, at: datetime, window: timedelta | str = "1h", baseline: timedelta | str = "24h",
                kind: str = "all", min_count: int = 5) -> RisingPlan:
    win = parse_duration(window, what="window")
    base = parse_duration(baseline, what="baseline")
    if base % win:
        raise TrendQueryError(f"baseline ({base}) must be a whole number of windows ({win})")
    buckets = base // win
    if buckets < 2:
        raise TrendQueryError(f"baseline must span at least 2 windows (got {buckets})")
    if min_count < 1:
        raise TrendQueryError(f"min_count must be at least 1 (got {min_count})")
    kinds = tuple(KINDS) if kind == "all" else (kind,)
    for k in kinds:
        check_kind(k)
    end = _minute_floor(at)
    window_s = int(win.total_seconds())
    current_start = end - window_s
    hourly = window_s % HOUR == 0
    baseline_end = current_start - current_start % HOUR if hourly else current_start
    return RisingPlan(kinds, end, window_s, buckets, baseline_end, hourly)


def rising(database: str, *, at: datetime, window: timedelta | str = "1h", baseline: timedelta | str = "24h",
           kind: str = "all", min_count: int = 5, limit: int = 20, precomputed: bool = False) -> TrendQuery:
    """Terms whose count in the window ending at `at` is furthest above their trailing baseline.

    The baseline is split into buckets as long as the window (24h / 1h = 24 buckets); empty buckets
    count as zero. z = (current - mean) / max(stddev, sqrt(mean), 1): the sqrt(mean) floor (Poisson
    noise) keeps a term with a flat, tiny baseline from getting an infinite score. Only terms with at
    least `min_count` posts in the current window are scored.

    When the window is a whole number of hours, the baseline buckets are whole clock hours ending at the
    start of the hour in which the current window starts (so up to 59 minutes between baseline and window
    are in neither), and come from:
      * `precomputed=True`: the rising_baselines rows of that baseline (see `refresh_baselines`; they must
        exist: a missing term counts as a zero baseline); the current window is counted from `events`
        (one scan, all kinds): no set of the baseline is merged at query time;
      * otherwise the hourly rollups, for terms with at least `min_count` posts in the hours overlapping
        the current window only; the current window from the per-minute rollups.
    Other windows: baseline buckets from the per-minute rollups, ending where the window starts.
    """
    plan = plan_rising(at=at, window=window, baseline=baseline, kind=kind, min_count=min_count)
    db = check_identifier(database)
    current_start = plan.end - plan.window
    params: dict[str, Any] = {
        "end": plan.end, "current_start": current_start, "baseline_end": plan.baseline_end,
        "start": plan.baseline_end - plan.window * plan.buckets, "window": plan.window, "buckets": plan.buckets,
        "min_count": min_count, "limit": check_limit(limit)}
    columns = ("kind", "term", "current", "baseline_mean", "baseline_std", "z")
    score = ("SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std, "
             "round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z ")
    if precomputed:
        if not plan.hourly:
            raise TrendQueryError("precomputed baselines need a window of whole hours")
        params["kinds"] = plan.kinds
        del params["start"]
        sql = (
            f"{score}FROM ("
            "SELECT kind, term, current, total / %(buckets)s AS mean, "
            "sqrt(greatest(total_sq / %(buckets)s - pow(total / %(buckets)s, 2), 0)) AS std "
            # joined on a 64-bit hash of (kind, term): ~20% faster than on the two strings; a collision
            # among the ~1e5 baseline terms of an hour has a chance of ~1e-10.
            "FROM (SELECT kind, term, current, cityHash64(kind, term) AS key "
            f"FROM ({_current_from_events(db, plan.kinds)})) AS cur "
            "ANY LEFT JOIN (SELECT cityHash64(kind, term) AS key, total, total_sq "
            f"FROM {db}.rising_baselines FINAL WHERE baseline_end = toDateTime(%(baseline_end)s) "
            "AND bucket_seconds = %(window)s AND buckets = %(buckets)s AND kind IN %(kinds)s) AS base "
            "USING key"
            ") ORDER BY z DESC, current DESC, kind, term LIMIT %(limit)s"
        )
        return TrendQuery("rising", sql, params, columns)
    params["filter_start"] = current_start - current_start % HOUR
    source = " UNION ALL ".join(_rising_source(db, k, hourly_baseline=plan.hourly) for k in plan.kinds)
    sql = (
        f"{score}FROM ("
        "SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / %(buckets)s AS mean, "
        "sqrt(greatest(sumIf(c * c, k > 0) / %(buckets)s - pow(sumIf(c, k > 0) / %(buckets)s, 2), 0)) AS std "
        f"FROM ({source}) "
        "GROUP BY kind, term"
        ") WHERE current >= %(min_count)s "
        "ORDER BY z DESC, current DESC, kind, term LIMIT %(limit)s"
    )
    return TrendQuery("rising", sql, params, columns)


_EVENT_TERMS = {"entity": "`entities.canonical`", "hashtag": "hashtags", "mention": "mentions",
                "brand_query": "topics"}


def _current_from_events(db: str, kinds: Sequence[str]) -> str:
    # The window's events, one scan per kind (cheaper than one scan building (kind, term) tuples), distinct
    # posts by the same 64-bit hash as the hourly rollups: a redelivered event is one element. The same
    # posts as the per-minute rollups would give: the window's bounds are whole minutes.
    return " UNION ALL ".join(
        f"SELECT '{k}' AS kind, term, uniqExact(h) AS current FROM ("
        f"SELECT cityHash64(event_id) AS h, {_EVENT_TERMS[k]} AS terms FROM {db}.events "
        "WHERE created_at >= toDateTime(%(current_start)s) AND created_at < toDateTime(%(end)s)"
        ") ARRAY JOIN terms AS term GROUP BY term HAVING current >= %(min_count)s"
        for k in kinds)


def baselines_present(database: str, key: tuple[int, int, int], kinds: Sequence[str]) -> TrendQuery:
    """The kinds that have a rising_baselines row set for `key` (baseline_end, bucket_seconds, buckets)."""
    db = check_identifier(database)
    end, window, buckets = key
    return TrendQuery(
        "baselines-present",
        f"SELECT DISTINCT kind FROM {db}.rising_baselines WHERE baseline_end = toDateTime(%(baseline_end)s) "
        "AND bucket_seconds = %(window)s AND buckets = %(buckets)s AND kind IN %(kinds)s",
        {"baseline_end": end, "window": window, "buckets": buckets, "kinds": tuple(kinds)}, ("kind",))


def refresh_baselines(database: str, key: tuple[int, int, int], kinds: Sequence[str] = tuple(KINDS)
                      ) -> list[TrendQuery]:
    """INSERTs (one per kind) computing a rising_baselines row set from the hourly rollups: exact (sets
    merged per bucket), idempotent (a re-run writes a newer version of the same rows)."""
    db = check_identifier(database)
    end, window, buckets = key
    if end % HOUR or window % HOUR or buckets < 2:
        raise TrendQueryError(f"baseline key {key} is not whole hours with at least 2 buckets")
    params = {"baseline_end": end, "start": end - window * buckets, "window": window, "buckets": buckets}
    statements = []
    for kind in kinds:
        spec = check_kind(kind)
        sql = (
            f"INSERT INTO {db}.rising_baselines (baseline_end, bucket_seconds, buckets, kind, term, total, "
            "total_sq, computed_at) "
            f"SELECT toDateTime(%(baseline_end)s), %(window)s, %(buckets)s, '{kind}', term, sum(c), sum(c * c), "
            "now() FROM ("
            "SELECT term, intDiv(toUInt32(hour) - %(start)s, %(window)s) AS k, uniqExactMerge(posts) AS c "
            f"FROM {db}.{spec.hourly} "
            "WHERE hour >= toDateTime(%(start)s) AND hour < toDateTime(%(baseline_end)s) GROUP BY term, k"
            ") GROUP BY term"
        )
        statements.append(TrendQuery("refresh-baselines", sql, params))
    return statements


_LABEL_COUNTS = ("uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, "
                 "uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, "
                 "uniqExactMergeIf(posts, sentiment_label = 'negative') AS n")


def _term_counts(db: str, spec: Kind, *, start: int, end: int, terms_param: str, hourly: bool,
                 params: dict[str, Any], bucket: bool) -> str:
    """Per (bucket, term) or per term: t (posts), p/u/n (positive/neutral/negative posts), from whole
    hours plus edge minutes when `hourly`, else from minutes only. Adds its time parameters to `params`."""
    keys = "bucket, term" if bucket else "term"
    if not hourly:
        params.update(start=start, end=end)
        label = f"{_bucket()} AS bucket, " if bucket else ""
        return (f"SELECT {label}term, {_LABEL_COUNTS} FROM {db}.{spec.rollup} "
                "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) "
                f"AND term IN %({terms_param})s GROUP BY {keys}")
    h_start, h_end = _split_hours(start, end)
    params.update(start=start, end=end, h_start=h_start, h_end=h_end)
    hour_label = f"{_bucket(column='hour')} AS bucket, " if bucket else ""
    minute_label = f"{_bucket()} AS bucket, " if bucket else ""
    return (f"SELECT {hour_label}term, {_LABEL_COUNTS} FROM {db}.{spec.hourly} "
            f"WHERE {_HOURS} AND term IN %({terms_param})s GROUP BY {keys} "
            "UNION ALL "
            f"SELECT {minute_label}term, {_LABEL_COUNTS} FROM {db}.{spec.rollup} "
            f"WHERE {_EDGE_MINUTES} AND term IN %({terms_param})s GROUP BY {keys}")


def timeline(database: str, *, at: datetime, terms: Sequence[str], kind: str = "brand_query",
             since: timedelta | str = "24h", interval: timedelta | str = "1h") -> TrendQuery:
    """Posts and sentiment per interval for each term. net_sentiment = (positive - negative) / posts.

    Buckets without posts are absent (BI tools fill gaps; the CLI prints what exists). Intervals of
    whole hours read the hourly rollup (plus the edge minutes); shorter ones the per-minute rollup.
    """
    db = check_identifier(database)
    spec = check_kind(kind)
    start, end = _range(at, since)
    params: dict[str, Any] = {"interval": _interval(interval, start, end), "terms": check_terms(terms)}
    source = _term_counts(db, spec, start=start, end=end, terms_param="terms", params=params, bucket=True,
                          hourly=params["interval"] % HOUR == 0)
    sql = (
        "SELECT bucket, term, sum(t) AS total, sum(p) AS positive, sum(u) AS neutral, sum(n) AS negative, "
        "round((positive - negative) / total, 3) AS net_sentiment "
        f"FROM ({source}) GROUP BY bucket, term ORDER BY bucket, term"
    )
    return TrendQuery("timeline", sql, params,
                      ("bucket", "term", "posts", "positive", "neutral", "negative", "net_sentiment"))


def share_of_voice(database: str, *, at: datetime, brand_queries: Sequence[str],
                   since: timedelta | str = "24h") -> TrendQuery:
    """Each brand query's posts as a share of all brand-query mentions (shares add up to 1).

    A post about two brands counts for both (that is how share of voice is usually defined).
    """
    db = check_identifier(database)
    start, end = _range(at, since)
    params: dict[str, Any] = {"brand_queries": check_terms(brand_queries)}
    source = _term_counts(db, KINDS["brand_query"], start=start, end=end, terms_param="brand_queries", params=params,
                          bucket=False, hourly=True)
    sql = (
        "SELECT term, total, round(total / (SELECT sum(t) FROM "
        f"({source})), 4) AS share, positive, negative, "
        "round((positive - negative) / total, 3) AS net_sentiment FROM ("
        "SELECT term, sum(t) AS total, sum(p) AS positive, sum(n) AS negative "
        f"FROM ({source}) GROUP BY term"
        ") ORDER BY total DESC, term"
    )
    return TrendQuery("share", sql, params, ("brand_query", "posts", "share", "positive", "negative", "net_sentiment"))


def top_posts(database: str, *, at: datetime, term: str, kind: str = "brand_query", since: timedelta | str = "24h",
              limit: int = 10) -> TrendQuery:
    """The most engaging posts mentioning `term`; engagement = likes + reposts + replies + quotes.

    Candidates come from the flattened rows (pruned by the (item, created_at) key); each candidate's
    latest version in `events` (argMax by enriched_at, the ReplacingMergeTree version column) gives its
    counters, so a redelivered post appears once with its latest counters. The text and url are read for
    the `limit` winners only.
    """
    db = check_identifier(database)
    spec = check_kind(kind)
    (checked,) = check_terms([term])
    start, end = _range(at, since)
    params = {"start": start, "end": end, "term": checked, "limit": check_limit(limit)}
    in_range = "created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(end)s)"
    winners = (
        f"SELECT event_id FROM {db}.events PREWHERE event_id IN (SELECT event_id FROM {db}.{spec.rows} "
        f"WHERE {spec.column} = %(term)s AND {in_range}) WHERE {in_range} "
        "GROUP BY event_id "
        "ORDER BY argMax(likes + reposts + replies + quotes, enriched_at) DESC, any(created_at) DESC, event_id "
        "LIMIT %(limit)s"
    )
    sql = (
        "SELECT toString(any(created_at), 'UTC') AS created, any(network) AS net, "
        "argMax(author_handle, enriched_at) AS author, "
        "argMax(likes + reposts + replies + quotes, enriched_at) AS engagement, "
        "argMax(sentiment_label, enriched_at) AS sentiment, "
        "replaceRegexpAll(substringUTF8(argMax(text, enriched_at), 1, 100), '\\\\s+', ' ') AS text_start, "
        "argMax(url, enriched_at) AS link, event_id "
        f"FROM {db}.events PREWHERE event_id IN ({winners}) WHERE {in_range} "
        "GROUP BY event_id ORDER BY engagement DESC, created DESC, event_id"
    )
    return TrendQuery("top-posts", sql, params,
                      ("created", "network", "author", "engagement", "sentiment", "text", "url", "event_id"))


def volume(database: str, *, at: datetime, by: str = "network", since: timedelta | str = "24h",
           interval: timedelta | str | None = None) -> TrendQuery:
    """Distinct posts and distinct authors by network, language or sentiment; per interval if given.

    Whole hours come from the hourly rollup; distinct authors do not add up across hours, so the edge
    minutes are read from `events` as the same kind of sets (uniqExactState of cityHash64) and merged with
    the hourly ones. Intervals shorter than an hour read the per-minute rollup.
    """
    db = check_identifier(database)
    if by not in VOLUME_DIMENSIONS:
        raise TrendQueryError(f"by {by!r} is not one of {', '.join(VOLUME_DIMENSIONS)}")
    column = VOLUME_DIMENSIONS[by]
    start, end = _range(at, since)
    params: dict[str, Any] = {"start": start, "end": end}
    if interval is not None:
        params["interval"] = _interval(interval, start, end)
    if interval is not None and params["interval"] % HOUR:
        sql = (f"SELECT {_bucket()} AS bucket, {column} AS {by}, uniqExactMerge(posts) AS total, "
               f"uniqExactMerge(authors) AS authors FROM {db}.volume_minute "
               "WHERE minute >= toDateTime(%(start)s) AND minute < toDateTime(%(end)s) "
               f"GROUP BY bucket, {by} ORDER BY bucket, total DESC, {by}")
        return TrendQuery("volume", sql, params, ("bucket", by, "posts", "authors"))
    h_start, h_end = _split_hours(start, end)
    params.update(h_start=h_start, h_end=h_end)
    bucketed = interval is not None
    hour_key = f"{_bucket(column='hour')} AS bucket, " if bucketed else ""
    edge_key = f"{_bucket(column='created_at')} AS bucket, " if bucketed else ""
    keys = f"bucket, {by}" if bucketed else by
    source = (
        f"SELECT {hour_key}{column} AS {by}, posts, authors FROM {db}.volume_hour WHERE {_HOURS} "
        "UNION ALL "
        f"SELECT {edge_key}{column} AS {by}, uniqExactState(cityHash64(event_id)) AS posts, "
        f"uniqExactState(cityHash64(author_id)) AS authors FROM {db}.events "
        "WHERE (created_at >= toDateTime(%(start)s) AND created_at < toDateTime(%(h_start)s)) "
        "OR (created_at >= toDateTime(%(h_end)s) AND created_at < toDateTime(%(end)s)) "
        f"GROUP BY {keys}"
    )
    sql = (f"SELECT {keys}, uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors "
           f"FROM ({source}) GROUP BY {keys} "
           f"ORDER BY {'bucket, ' if bucketed else ''}total DESC, {by}")
    return TrendQuery("volume", sql, params, (("bucket",) if bucketed else ()) + (by, "posts", "authors"))


def latest_minute(database: str) -> TrendQuery:
    """The newest minute with data (0 when empty): the default reference time is its end."""
    db = check_identifier(database)
    return TrendQuery("latest", f"SELECT toUInt32(max(minute)) FROM {db}.volume_minute", {}, ("minute",))


def render_sql(query: TrendQuery) -> str:
    """The query with its parameters substituted by clickhouse-driver's own escaping, for transports
    that take plain SQL text (HTTP, chdb). clickhouse-driver does exactly this before sending a query."""
    from clickhouse_driver.util.escape import escape_params

    return query.sql % escape_params(query.params, None) if query.params else query.sql
