"""Synthetic enriched events for the trend queries, made inside ClickHouse: the bench's 10 M-event data set
(bench/load_bulk.py) and the trend tests' data (tests/contract, tests/integration) are the same SQL.

Rows are made by ClickHouse itself (`numbers()` + cityHash64 of the row number: deterministic, no Python in
the loop) and go through the normal `events` table, so the materialized views (0002, 0005) build the
flattened rows and rollups exactly as in production. Distribution:
  * created_at spread evenly over `days` ending at `end`;
  * networks / languages / sentiment with fixed weights; 300k authors;
  * 0-3 entities, 0-2 hashtags, 0-1 mentions per post, Zipf-like (rank = floor(K ** u)) over 5k
    entities, 20k hashtags, 50k accounts; ~18% of posts match a brand query (spotify 8%, ...);
  * in the last hour, 30% of posts belong to an injected spike: brand query + entity `spotify`, hashtag
    `spotifydown`, negative;
  * `duplicates` percent of the last two days is inserted a second time (redelivery).
"""

from __future__ import annotations

from datetime import datetime

from streams.sinks.clickhouse.client import check_identifier

SPIKE_SHARE_PERCENT = 30

_COLUMNS = ("event_id, network, kind, native_id, author_id, author_handle, text, created_at, ingested_at, "
            "language, language_confidence, sentiment_label, sentiment_score, sentiment_confidence, "
            "`entities.text`, `entities.label`, `entities.canonical`, `entities.source`, hashtags, mentions, "
            "topics, likes, reposts, replies, quotes, enricher_version, enriched_at")

# {end}, {span}, {total}, {spike}, {offset}, {count}: integers from insert_statements, never user text.
_SELECT = """
SELECT
    concat(net, ':', toString(number)) AS event_id, net AS network, 'post' AS kind, toString(number) AS native_id,
    concat('u', toString(h4 % 300000)) AS author_id, concat('user_', toString(h4 % 300000)) AS author_handle,
    concat('post ', arrayStringConcat(ents, ' '), ' #', arrayStringConcat(tags, ' #')) AS text,
    created AS created_at, created AS ingested_at, lang AS language, toFloat32(0.9) AS language_confidence,
    label AS sentiment_label,
    toFloat32(multiIf(label = 'positive', 0.6, label = 'negative', -0.6, 0.0)) AS sentiment_score,
    toFloat32(0.8) AS sentiment_confidence,
    ents AS `entities.text`, arrayMap(e -> 'ORG', ents) AS `entities.label`, ents AS `entities.canonical`,
    arrayMap(e -> 'model', ents) AS `entities.source`, tags AS hashtags, ments AS mentions, tops AS topics,
    toUInt32(exp((h1 % 1000) / 1000 * 7)) - 1 AS likes, toUInt32(exp((h2 % 1000) / 1000 * 5)) - 1 AS reposts,
    toUInt32(h3 % 20) AS replies, toUInt32(h5 % 5) AS quotes, 'bench-1' AS enricher_version,
    created AS enriched_at
FROM
(
    SELECT number, h1, h2, h3, h4, h5, created, spike,
        multiIf(h1 % 100 < 40, 'x', h1 % 100 < 60, 'bluesky', h1 % 100 < 75, 'reddit', h1 % 100 < 90, 'mastodon',
                'youtube') AS net,
        multiIf(h2 % 100 < 55, 'en', h2 % 100 < 75, 'es', h2 % 100 < 83, 'pt', h2 % 100 < 90, 'fr',
                h2 % 100 < 96, 'de', 'und') AS lang,
        if(spike, 'negative', multiIf(h3 % 100 < 30, 'positive', h3 % 100 < 75, 'neutral', 'negative')) AS label,
        multiIf(h5 % 10000 < 800, ['spotify'], h5 % 10000 < 1200, ['apple_music'], h5 % 10000 < 1500,
                ['youtube_music'], h5 % 10000 < 1600, ['deezer'], h5 % 10000 < 1650, ['tidal'], h5 % 10000 < 1800,
                ['amazon_music'], h5 % 10000 < 1850, ['streaming_prices', 'spotify'],
                emptyArrayString()) AS base_topics,
        if(spike, ['spotify'], base_topics) AS tops,
        arrayConcat(if(has(tops, 'spotify'), ['spotify'], emptyArrayString()),
            arrayMap(i -> concat('entity',
                toString(toUInt32(pow(5000, (cityHash64(number, i, 11) % 1000000) / 1000000)))),
                     range(toUInt32(h1 % 4)))) AS ents,
        arrayConcat(if(spike, ['spotifydown'], emptyArrayString()),
            arrayMap(i -> concat('tag',
                toString(toUInt32(pow(20000, (cityHash64(number, i, 12) % 1000000) / 1000000)))),
                     range(toUInt32(h2 % 3)))) AS tags,
        arrayMap(i -> concat('acct',
                toString(toUInt32(pow(50000, (cityHash64(number, i, 13) % 1000000) / 1000000)))),
                 range(toUInt32(h3 % 2))) AS ments
    FROM
    (
        SELECT number,
            cityHash64(number, 1) AS h1, cityHash64(number, 2) AS h2, cityHash64(number, 3) AS h3,
            cityHash64(number, 4) AS h4, cityHash64(number, 5) AS h5,
            toDateTime({end} - {span} + intDiv(number * {span}, {total})) AS created,
            created >= toDateTime({end} - 3600) AND cityHash64(number, 6) % 100 < {spike} AS spike
        FROM numbers({offset}, {count})
        {where}
    )
)
"""


def insert_statements(database: str, *, rows: int, days: int, end: datetime, chunk: int,
                      duplicates: float) -> list[str]:
    """The INSERT ... SELECT statements of a load (plain SQL: runs on 18.16 and on current ClickHouse)."""
    db = check_identifier(database)
    end_ts, span = int(end.timestamp()), days * 86_400
    statements = []
    for offset in range(0, rows, chunk):
        sql = _SELECT.format(end=end_ts, span=span, total=rows, spike=SPIKE_SHARE_PERCENT, offset=offset,
                             count=min(chunk, rows - offset), where="")
        statements.append(f"INSERT INTO {db}.events ({_COLUMNS}) {sql}")
    if duplicates > 0:
        # Redeliver a share of the last two days: the same rows, inserted again.
        first = rows - rows * 2 // days if days > 2 else 0
        modulo = max(1, round(100 / duplicates))
        sql = _SELECT.format(end=end_ts, span=span, total=rows, spike=SPIKE_SHARE_PERCENT, offset=first,
                             count=rows - first, where=f"WHERE number % {modulo} = 0")
        statements.append(f"INSERT INTO {db}.events ({_COLUMNS}) {sql}")
    return statements
