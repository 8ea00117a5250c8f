-- Precomputed baselines for rising terms: for each baseline end (a whole UTC hour), bucket length and
-- number of buckets, per (kind, term) the sum and the sum of squares of the per-bucket distinct post counts
-- over the baseline, computed from the hourly rollups of 0005 (sets of posts: exact, redeliveries counted
-- once). Rising terms then merges no baseline sets at query time: it reads these few rows and counts only
-- the current window (streams/trends/queries.py). Rows are (re)computed by
-- `socialpulse trends refresh-baselines` and by `socialpulse trends rising` when the row set for the
-- baseline it needs is missing (streams/trends/baselines.py); recomputing inserts a newer `computed_at`
-- version of the same key, so read with FINAL (ReplacingMergeTree). Events that arrive after a baseline
-- was computed are in it only once it is recomputed (`refresh-baselines --hours N`).
-- Terms absent from a baseline had no post in it (baseline 0). Only recent baselines are read (rising
-- computes an older one when asked for an old reference time): 7 days of TTL where the server has TTL; one
-- hour's row set is ~0.6 MB for 10 M events / 14 days (62 k terms).
CREATE TABLE IF NOT EXISTS {db}.rising_baselines
(
    baseline_end DateTime,
    bucket_seconds UInt32,
    buckets UInt16,
    kind String,
    term String,
    total UInt64,
    total_sq UInt64,
    computed_at DateTime
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(baseline_end)
ORDER BY (baseline_end, bucket_seconds, buckets, kind, term)
SETTINGS index_granularity = 1024;

-- requires: 19.6
ALTER TABLE {db}.rising_baselines MODIFY TTL baseline_end + INTERVAL 7 DAY;
