-- Spike alerts (social.alerts.v1), one row per delivery; ReplacingMergeTree collapses redeliveries and the
-- same alert raised by several workers (alert_id = "<kind>:<subject_type>:<subject>:<window_start>").
-- Query with FINAL. Runs on ClickHouse 18.16 and current releases (no DateTime64, LowCardinality, TTL).
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    alert_id String,
    kind String,
    subject_type String,
    subject String,
    window_start DateTime,
    window_end DateTime,
    observed Float64,
    baseline Float64,
    score Float64,
    `drivers.term` Array(String),
    `drivers.kind` Array(String),
    `drivers.window_count` Array(UInt32),
    `drivers.baseline_rate` Array(Float64),
    `drivers.lift` Array(Float64),
    sentiment_window Float32,
    sentiment_baseline Float32,
    example_event_ids Array(String),
    example_texts Array(String),
    detected_at DateTime
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (subject_type, subject, window_start, alert_id);
