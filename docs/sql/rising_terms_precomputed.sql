-- Rising terms, fast: the same result as rising_terms.sql, but the baseline (sum and sum of squares of the
-- 24 hourly counts per term) is read from `rising_baselines` (0006) instead of merging 24 hours of sets,
-- and the last hour is counted from `events` (one scan per kind). The baseline rows must exist:
-- `socialpulse trends rising` computes them when missing, and `socialpulse trends refresh-baselines`
-- (run it every few minutes, e.g. from cron) keeps them current with late events; a term without a row
-- counts as baseline 0.
-- Reference time: the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std, round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z
FROM (
    SELECT kind, term, current, total / 24 AS mean, sqrt(greatest(total_sq / 24 - pow(total / 24, 2), 0)) AS std
    FROM (
        SELECT kind, term, current, cityHash64(kind, term) AS key
        FROM (
            SELECT 'entity' AS kind, term, uniqExact(h) AS current
            FROM (
                SELECT cityHash64(event_id) AS h, `entities.canonical` AS terms
                FROM socialpulse.events
                WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
                AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            ) ARRAY JOIN terms AS term
            GROUP BY term
            HAVING current >= 5
            UNION ALL
            SELECT 'hashtag' AS kind, term, uniqExact(h) AS current
            FROM (
                SELECT cityHash64(event_id) AS h, hashtags AS terms
                FROM socialpulse.events
                WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
                AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            ) ARRAY JOIN terms AS term
            GROUP BY term
            HAVING current >= 5
            UNION ALL
            SELECT 'mention' AS kind, term, uniqExact(h) AS current
            FROM (
                SELECT cityHash64(event_id) AS h, mentions AS terms
                FROM socialpulse.events
                WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
                AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            ) ARRAY JOIN terms AS term
            GROUP BY term
            HAVING current >= 5
            UNION ALL
            SELECT 'brand_query' AS kind, term, uniqExact(h) AS current
            FROM (
                SELECT cityHash64(event_id) AS h, topics AS terms
                FROM socialpulse.events
                WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
                AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            ) ARRAY JOIN terms AS term
            GROUP BY term
            HAVING current >= 5
        )
    ) AS cur
    ANY LEFT JOIN (
        SELECT cityHash64(kind, term) AS key, total, total_sq
        FROM socialpulse.rising_baselines FINAL
        WHERE baseline_end = toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
        AND bucket_seconds = 3600
        AND buckets = 24
        AND kind IN ('entity', 'hashtag', 'mention', 'brand_query')
    ) AS base
    USING key
)
ORDER BY z DESC, current DESC, kind, term
LIMIT 20
