-- Rising terms: posts in the last hour vs a baseline of the 24 whole clock hours before the hour in which
-- that last hour starts (z-score), all kinds. The last hour is read per minute (entity_minute, ...), the
-- baseline per hour (entity_hour, ...: 60x fewer states), and only for terms with at least 5 posts in the
-- hours overlapping the last hour (pre-filter). Exact under redelivery: uniqExactMerge of sets of posts.
-- Reference time `at`: the end of the newest minute with data (works for replayed samples; on a live
-- pipeline use toUInt32(now()) or your tool's time macro). No window functions: runs on ClickHouse 18.16
-- and current releases. `b` = the end of the baseline = the start of the hour of at - 3600 (UTC hours).
SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std,
       round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z
FROM
(
    SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / 24 AS mean,
           sqrt(greatest(sumIf(c * c, k > 0) / 24 - pow(sumIf(c, k > 0) / 24, 2), 0)) AS std
    FROM
    (
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'entity' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.entity_minute
        WHERE minute >= toDateTime(at - 3600) AND minute < toDateTime(at)
        GROUP BY term HAVING c >= 5
        UNION ALL
        WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600 FROM socialpulse.volume_minute) AS b
        SELECT 'entity' AS kind, term, toUInt32(intDiv(b - 1 - toUInt32(hour), 3600) + 1) AS k,
               uniqExactMerge(posts) AS c
        FROM socialpulse.entity_hour
        WHERE hour >= toDateTime(b - 24 * 3600) AND hour < toDateTime(b)
          AND term IN (WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600
                             FROM socialpulse.volume_minute) AS b
                       SELECT term FROM socialpulse.entity_hour WHERE hour >= toDateTime(b)
                       GROUP BY term HAVING uniqExactMerge(posts) >= 5)
        GROUP BY term, k
        UNION ALL
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'hashtag' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.hashtag_minute
        WHERE minute >= toDateTime(at - 3600) AND minute < toDateTime(at)
        GROUP BY term HAVING c >= 5
        UNION ALL
        WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600 FROM socialpulse.volume_minute) AS b
        SELECT 'hashtag' AS kind, term, toUInt32(intDiv(b - 1 - toUInt32(hour), 3600) + 1) AS k,
               uniqExactMerge(posts) AS c
        FROM socialpulse.hashtag_hour
        WHERE hour >= toDateTime(b - 24 * 3600) AND hour < toDateTime(b)
          AND term IN (WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600
                             FROM socialpulse.volume_minute) AS b
                       SELECT term FROM socialpulse.hashtag_hour WHERE hour >= toDateTime(b)
                       GROUP BY term HAVING uniqExactMerge(posts) >= 5)
        GROUP BY term, k
        UNION ALL
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT 'brand_query' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.topic_minute
        WHERE minute >= toDateTime(at - 3600) AND minute < toDateTime(at)
        GROUP BY term HAVING c >= 5
        UNION ALL
        WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600 FROM socialpulse.volume_minute) AS b
        SELECT 'brand_query' AS kind, term, toUInt32(intDiv(b - 1 - toUInt32(hour), 3600) + 1) AS k,
               uniqExactMerge(posts) AS c
        FROM socialpulse.topic_hour
        WHERE hour >= toDateTime(b - 24 * 3600) AND hour < toDateTime(b)
          AND term IN (WITH (SELECT intDiv(toUInt32(max(minute)) + 60 - 3600, 3600) * 3600
                             FROM socialpulse.volume_minute) AS b
                       SELECT term FROM socialpulse.topic_hour WHERE hour >= toDateTime(b)
                       GROUP BY term HAVING uniqExactMerge(posts) >= 5)
        GROUP BY term, k
    )
    GROUP BY kind, term
)
WHERE current >= 5
ORDER BY z DESC, current DESC, kind, term
LIMIT 20
