-- Enriched events, one row per delivery; ReplacingMergeTree collapses redeliveries of the same event_id
-- (same created_at, since event_id fixes the post). Query with FINAL or aggregate on uniqExact(event_id).
-- Runs on ClickHouse 18.16 and current releases: no DateTime64, LowCardinality or TTL here.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id String,
    network String,
    kind String,
    native_id String,
    author_id String,
    author_handle String,
    author_followers Nullable(UInt64),
    text String,
    lang_hint String,
    url String,
    thread_id String,
    reply_to_id String,
    likes UInt32,
    reposts UInt32,
    replies UInt32,
    quotes UInt32,
    created_at DateTime,
    ingested_at DateTime,
    language String,
    language_confidence Float32,
    sentiment_label String,
    sentiment_score Float32,
    sentiment_confidence Float32,
    `entities.text` Array(String),
    `entities.label` Array(String),
    `entities.canonical` Array(String),
    `entities.source` Array(String),
    hashtags Array(String),
    mentions Array(String),
    urls Array(String),
    cashtags Array(String),
    emojis Array(String),
    topics Array(String),  -- the brand queries matched (EnrichedEvent.topics; docs/bi-queries.md)
    enricher_version String,
    enriched_at DateTime,
    kafka_partition UInt32,
    kafka_offset UInt64
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (toStartOfHour(created_at), event_id);

-- Records that could not be processed; one row per (topic, partition, offset).
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    dead_letter_id String,
    source_topic String,
    partition UInt32,
    offset UInt64,
    key_b64 String,
    original_b64 String,
    error_code String,
    error_message String,
    stage String,
    event_id String,
    failed_at DateTime
)
ENGINE = ReplacingMergeTree(failed_at)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (error_code, dead_letter_id);
