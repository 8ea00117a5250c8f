-- Rising terms, fast: the same result as rising_terms.sql, but the baseline (sum and sum of squares of the 24
-- hourly counts per term) is read from `rising_baselines` (0006) instead of merging 24 hours of sets, and the
-- last hour is counted from `events` (one scan per kind, distinct cityHash64(event_id)). The baseline rows
-- must exist for the hour `b`: `socialpulse trends rising` computes them when missing, and
-- `socialpulse trends refresh-baselines` (run it every few minutes, e.g. from cron) keeps them current with
-- late events; a term without a row counts as baseline 0. Reference time as in rising_terms.sql.
SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std,
       round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z
FROM
(
    SELECT kind, term, current, total / 24 AS mean, sqrt(greatest(total_sq / 24 - pow(total / 24, 2), 0)) AS std
    FROM
    (
        SELECT 'entity' AS kind, term, uniqExact(h) AS current
        FROM (WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
              SELECT cityHash64(event_id) AS h, `entities.canonical` AS terms FROM socialpulse.events
              WHERE created_at >= toDateTime(at - 3600) AND created_at < toDateTime(at))
        ARRAY JOIN terms AS term GROUP BY term HAVING current >= 5
        UNION ALL
        SELECT 'hashtag' AS kind, term, uniqExact(h) AS current
        FROM (WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
              SELECT cityHash64(event_id) AS h, hashtags AS terms FROM socialpulse.events
              WHERE created_at >= toDateTime(at - 3600) AND created_at < toDateTime(at))
        ARRAY JOIN terms AS term GROUP BY term HAVING current >= 5
        UNION ALL
        SELECT 'brand_query' AS kind, term, uniqExact(h) AS current
        FROM (WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
              SELECT cityHash64(event_id) AS h, topics AS terms FROM socialpulse.events
              WHERE created_at >= toDateTime(at - 3600) AND created_at < toDateTime(at))
        ARRAY JOIN terms AS term GROUP BY term HAVING current >= 5
    ) AS cur
    ANY LEFT JOIN
    (
        WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600 FROM socialpulse.volume_minute) AS b
        SELECT kind, term, total, total_sq
        FROM socialpulse.rising_baselines FINAL
        WHERE baseline_end = toDateTime(b) AND bucket_seconds = 3600 AND buckets = 24
    ) AS base USING (kind, term)
)
ORDER BY z DESC, current DESC, kind, term
LIMIT 20
