-- Rising terms: posts in the last hour vs the previous 24 hourly buckets (z-score), all kinds.
-- Reference time: the end of the newest minute with data (works for replayed samples; on a live
-- pipeline it is about now()). Exact under redelivery: uniqExactMerge of per-minute event_id sets.
-- No window functions: runs on ClickHouse 18.16 and current releases.
SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std,
       round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z
FROM
(
    SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / 24 AS mean,
           sqrt(greatest(sumIf(c * c, k > 0) / 24 - pow(sumIf(c, k > 0) / 24, 2), 0)) AS std
    FROM
    (
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'entity' AS kind, term, intDiv(at - 1 - toUInt32(minute), 3600) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.entity_minute
        WHERE minute >= toDateTime(at - 25 * 3600) AND minute < toDateTime(at)
        GROUP BY term, k
        UNION ALL
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'hashtag' AS kind, term, intDiv(at - 1 - toUInt32(minute), 3600) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.hashtag_minute
        WHERE minute >= toDateTime(at - 25 * 3600) AND minute < toDateTime(at)
        GROUP BY term, k
        UNION ALL
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'topic' AS kind, term, intDiv(at - 1 - toUInt32(minute), 3600) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.topic_minute
        WHERE minute >= toDateTime(at - 25 * 3600) AND minute < toDateTime(at)
        GROUP BY term, k
    )
    GROUP BY kind, term
)
WHERE current >= 5
ORDER BY z DESC, current DESC, kind, term
LIMIT 20
