-- Incidents (social.incidents.v1): alerts grouped into one growing story, one row per revision delivered;
-- ReplacingMergeTree(revision) keeps the latest revision per incident_id. Query with FINAL.
-- Runs on ClickHouse 18.16 and current releases (no DateTime64, LowCardinality, TTL).
CREATE TABLE IF NOT EXISTS {db}.incidents
(
    incident_id String,
    revision UInt32,
    status String,
    headline_type String,
    headline String,
    kinds Array(String),
    `subjects.type` Array(String),
    `subjects.subject` Array(String),
    alert_ids Array(String),
    alert_count UInt32,
    started_at DateTime,
    peak_at DateTime,
    peak_score Float64,
    peak_observed Float64,
    last_alert_at DateTime,
    ended_at Nullable(DateTime),
    merged_into String,
    `drivers.term` Array(String),
    `drivers.kind` Array(String),
    `drivers.window_count` Array(UInt32),
    `drivers.baseline_rate` Array(Float64),
    `drivers.lift` Array(Float64),
    example_event_ids Array(String),
    example_texts Array(String),
    sentiment_window Float32,
    sentiment_baseline Float32,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(started_at)
ORDER BY incident_id;
