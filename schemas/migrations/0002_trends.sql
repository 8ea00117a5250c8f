-- Trend storage: flattened per-item rows and per-minute rollups, all fed by materialized views on events.
--
-- The pipeline is at-least-once, so the same event_id can reach `events` several times. Nothing here
-- may double count in query results:
--   * flattened rows (event_entities, event_hashtags, event_mentions, event_topics) are
--     ReplacingMergeTree keyed by (item, created_at, event_id): redeliveries collapse on merge; queries
--     deduplicate with uniqExact(event_id) or GROUP BY event_id, never count();
--   * rollups are AggregatingMergeTree holding uniqExactState(event_id): merging two states of the same
--     event is a set union, so a redelivered event is counted once, exactly. Sentiment is stored the same
--     way: the rollup key includes sentiment_label, so each label has its own uniqExact set of posts
--     (per-label counts and the net sentiment (pos - neg) / posts are exact), never sumState(score): a
--     sum cannot tell a redelivery from a new post, so it would drift with every replay. (uniqExactIfState
--     is not used: on 18.16 its type is AggregateFunction(uniqExactIf, String, UInt8), which differs
--     from current releases.) An exact mean score comes from the flattened rows, one row per event.
--   * because every state is idempotent, the backfill INSERTs at the end can be re-run safely, even
--     while the pipeline writes.
-- Runs on ClickHouse 18.16 and current releases (one SQL text): new-style MergeTree syntax,
-- CREATE MATERIALIZED VIEW ... TO, no LowCardinality. TTL (19.6+) is added below behind `-- requires:`;
-- on older servers `socialpulse retention --days N` drops old partitions instead.

CREATE TABLE IF NOT EXISTS {db}.event_entities
(
    canonical String,
    label String,
    surface String,
    created_at DateTime,
    event_id String,
    network String,
    language String,
    sentiment_label String,
    sentiment_score Float32,
    author_id String,
    enriched_at DateTime
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (canonical, created_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.event_hashtags
(
    tag String,
    created_at DateTime,
    event_id String,
    network String,
    language String,
    sentiment_label String,
    sentiment_score Float32,
    author_id String,
    enriched_at DateTime
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (tag, created_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.event_mentions
(
    mention String,
    created_at DateTime,
    event_id String,
    network String,
    language String,
    sentiment_label String,
    sentiment_score Float32,
    author_id String,
    enriched_at DateTime
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (mention, created_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.event_topics
(
    topic String,
    created_at DateTime,
    event_id String,
    network String,
    language String,
    sentiment_label String,
    sentiment_score Float32,
    author_id String,
    enriched_at DateTime
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (topic, created_at, event_id);

-- Volume per minute by network, language and sentiment label; distinct posts and distinct authors.
CREATE TABLE IF NOT EXISTS {db}.volume_minute
(
    minute DateTime,
    network String,
    language String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, String),
    authors AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, network, language, sentiment_label);

-- Per-minute term rollups, one table per kind of term, same shape: the set of distinct posts per
-- (minute, term, sentiment label). Total posts = uniqExactMerge over the labels (a set union).
CREATE TABLE IF NOT EXISTS {db}.entity_minute
(
    minute DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, term, sentiment_label);

CREATE TABLE IF NOT EXISTS {db}.hashtag_minute
(
    minute DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, term, sentiment_label);

CREATE TABLE IF NOT EXISTS {db}.mention_minute
(
    minute DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, term, sentiment_label);

-- Brand queries (config/brand_queries.yaml; "topic" is their name in ClickHouse, see docs/bi-queries.md)
-- with sentiment, the source of share of voice.
CREATE TABLE IF NOT EXISTS {db}.topic_minute
(
    minute DateTime,
    term String,
    sentiment_label String,
    posts AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, term, sentiment_label);

-- Materialized views: each reads the inserted block of events. Entities are deduplicated per post by
-- canonical form in the rollups (uniqExact); the flattened table keeps one row per (canonical, event).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_entities_mv TO {db}.event_entities AS
SELECT canonical, label, surface, created_at, event_id, network, language, sentiment_label, sentiment_score,
       author_id, enriched_at
FROM {db}.events
ARRAY JOIN `entities.canonical` AS canonical, `entities.label` AS label, `entities.text` AS surface;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_hashtags_mv TO {db}.event_hashtags AS
SELECT tag, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id, enriched_at
FROM {db}.events
ARRAY JOIN hashtags AS tag;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_mentions_mv TO {db}.event_mentions AS
SELECT mention, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id,
       enriched_at
FROM {db}.events
ARRAY JOIN mentions AS mention;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_topics_mv TO {db}.event_topics AS
SELECT topic, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id, enriched_at
FROM {db}.events
ARRAY JOIN topics AS topic;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.volume_minute_mv TO {db}.volume_minute AS
SELECT toStartOfMinute(created_at) AS minute, network, language, sentiment_label,
       uniqExactState(event_id) AS posts, uniqExactState(author_id) AS authors
FROM {db}.events
GROUP BY minute, network, language, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.entity_minute_mv TO {db}.entity_minute AS
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN `entities.canonical` AS term
GROUP BY minute, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.hashtag_minute_mv TO {db}.hashtag_minute AS
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN hashtags AS term
GROUP BY minute, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.mention_minute_mv TO {db}.mention_minute AS
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN mentions AS term
GROUP BY minute, term, sentiment_label;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.topic_minute_mv TO {db}.topic_minute AS
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN topics AS term
GROUP BY minute, term, sentiment_label;

-- Backfill events stored before this migration (idempotent, see above).
INSERT INTO {db}.event_entities
SELECT canonical, label, surface, created_at, event_id, network, language, sentiment_label, sentiment_score,
       author_id, enriched_at
FROM {db}.events
ARRAY JOIN `entities.canonical` AS canonical, `entities.label` AS label, `entities.text` AS surface;

INSERT INTO {db}.event_hashtags
SELECT tag, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id, enriched_at
FROM {db}.events
ARRAY JOIN hashtags AS tag;

INSERT INTO {db}.event_mentions
SELECT mention, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id,
       enriched_at
FROM {db}.events
ARRAY JOIN mentions AS mention;

INSERT INTO {db}.event_topics
SELECT topic, created_at, event_id, network, language, sentiment_label, sentiment_score, author_id, enriched_at
FROM {db}.events
ARRAY JOIN topics AS topic;

INSERT INTO {db}.volume_minute
SELECT toStartOfMinute(created_at) AS minute, network, language, sentiment_label,
       uniqExactState(event_id) AS posts, uniqExactState(author_id) AS authors
FROM {db}.events
GROUP BY minute, network, language, sentiment_label;

INSERT INTO {db}.entity_minute
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN `entities.canonical` AS term
GROUP BY minute, term, sentiment_label;

INSERT INTO {db}.hashtag_minute
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN hashtags AS term
GROUP BY minute, term, sentiment_label;

INSERT INTO {db}.mention_minute
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN mentions AS term
GROUP BY minute, term, sentiment_label;

INSERT INTO {db}.topic_minute
SELECT toStartOfMinute(created_at) AS minute, term, sentiment_label, uniqExactState(event_id) AS posts
FROM {db}.events
ARRAY JOIN topics AS term
GROUP BY minute, term, sentiment_label;
