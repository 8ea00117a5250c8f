-- Hourly trend rollups for long ranges and baselines (rising terms' 24 h baseline, 7 d timelines, 24 h
-- volume). Same idea as the per-minute rollups of 0002, same guarantee: every state is a uniqExact set of
-- posts, so a redelivered event is counted once, exactly, and the backfill below can be re-run safely
-- (also while the pipeline writes: an event both in the backfill and in the view is one set element).
--
-- Differences from 0002, both for speed:
--   * one row per (hour, term, sentiment_label) instead of per minute: ~60x fewer states to read and merge
--     for popular terms;
--   * the sets hold cityHash64(event_id) (UInt64) instead of the event_id strings (which uniqExact keeps as
--     128-bit SipHash values): half the bytes, cheaper hashing when merging. Two different event ids with the
--     same 64-bit hash would count once. Even over all events the chance of any such pair is about
--     n^2 / 2^65 (~3e-6 for 10 M events, ~3e-2 for 1e9), and a collision only matters when both events fall
--     in the same (hour, term) set, so miscounts are negligible at our scale.
-- `hour` is a whole UTC hour (intDiv of the Unix time, not toStartOfHour, whose result follows the server
-- time zone and is not hour-aligned in zones such as +05:30). Queries combine the two granularities: whole
-- hours from here, the minutes at the edges of a range from the per-minute rollups (post counts of
-- disjoint time ranges add up), see streams/trends/queries.py.
-- Key (hour, term, ...) with small granules: a range of hours is contiguous (rising reads all terms of 24
-- hours) and one term in one hour is one granule (a 7-day timeline of one term reads 168 small granules).
-- Runs on ClickHouse 18.16 and current releases (one SQL text); TTL below behind `-- requires:`.

CREATE TABLE IF NOT EXISTS {db}.entity_hour
(
    hour DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, term, sentiment_label)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.hashtag_hour
(
    hour DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, term, sentiment_label)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.mention_hour
(
    hour DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, term, sentiment_label)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.topic_hour
(
    hour DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, term, sentiment_label)
SETTINGS index_granularity = 1024;

-- Volume per hour; distinct authors are hashed the same way (authors are not additive across hours, so
-- ranges that do not start and end on whole hours take their edge minutes from `events`).
CREATE TABLE IF NOT EXISTS {db}.volume_hour
(
    hour DateTime,
    network String,
    language String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, UInt64),
    authors AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, network, language, sentiment_label)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_hour_mv TO {db}.entity_hour AS
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN `entities.canonical` AS term
GROUP BY hour, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.hashtag_hour_mv TO {db}.hashtag_hour AS
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN hashtags AS term
GROUP BY hour, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.mention_hour_mv TO {db}.mention_hour AS
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN mentions AS term
GROUP BY hour, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.topic_hour_mv TO {db}.topic_hour AS
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN topics AS term
GROUP BY hour, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.volume_hour_mv TO {db}.volume_hour AS
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, network, language, sentiment_label,
       uniqExactState(cityHash64(event_id)) AS posts, uniqExactState(cityHash64(author_id)) AS authors
FROM {db}.events
GROUP BY hour, network, language, sentiment_label;

-- Backfill events stored before this migration (idempotent, see above).
INSERT INTO {db}.entity_hour
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN `entities.canonical` AS term
GROUP BY hour, term, sentiment_label;

INSERT INTO {db}.hashtag_hour
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN hashtags AS term
GROUP BY hour, term, sentiment_label;

INSERT INTO {db}.mention_hour
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN mentions AS term
GROUP BY hour, term, sentiment_label;

INSERT INTO {db}.topic_hour
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, term, sentiment_label, uniqExactState(cityHash64(event_id)) AS posts
FROM {db}.events
ARRAY JOIN topics AS term
GROUP BY hour, term, sentiment_label;

INSERT INTO {db}.volume_hour
SELECT toDateTime(intDiv(toUInt32(created_at), 3600) * 3600) AS hour, network, language, sentiment_label,
       uniqExactState(cityHash64(event_id)) AS posts, uniqExactState(cityHash64(author_id)) AS authors
FROM {db}.events
GROUP BY hour, network, language, sentiment_label;

-- requires: 19.6
ALTER TABLE {db}.entity_hour MODIFY TTL hour + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.hashtag_hour MODIFY TTL hour + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.mention_hour MODIFY TTL hour + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.topic_hour MODIFY TTL hour + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.volume_hour MODIFY TTL hour + INTERVAL 730 DAY;
