-- Rising terms, all kinds: posts in the last hour vs a baseline of the 24 whole clock hours before the hour
-- in which that last hour starts; z = (current - mean) / max(std, sqrt(mean), 1), at least 5 posts.
-- The last hour is read per minute (entity_minute, ...), the baseline per hour (entity_hour, ...: 60x
-- fewer states), and only for terms with at least 5 posts in the hours overlapping the last hour.
-- Exact under redelivery: uniqExactMerge of sets of posts. No window functions.
-- Reference time: the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT kind, term, current, round(mean, 2) AS baseline_mean, round(std, 2) AS baseline_std, round((current - mean) / greatest(greatest(std, sqrt(mean)), 1), 2) AS z
FROM (
    SELECT kind, term, sumIf(c, k = 0) AS current, sumIf(c, k > 0) / 24 AS mean, sqrt(greatest(sumIf(c * c, k > 0) / 24 - pow(sumIf(c, k > 0) / 24, 2), 0)) AS std
    FROM (
        SELECT 'entity' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.entity_minute
        WHERE minute >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
        AND minute < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
        GROUP BY term
        HAVING c >= 5
        UNION ALL
        SELECT 'entity' AS kind, term, toUInt32(intDiv((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600) - 1 - toUInt32(hour), 3600) + 1) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.entity_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 90000))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
        AND term IN (
            SELECT term
            FROM socialpulse.entity_hour
            WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
            AND hour < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            GROUP BY term
            HAVING uniqExactMerge(posts) >= 5
        )
        GROUP BY term, k
        UNION ALL
        SELECT 'hashtag' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.hashtag_minute
        WHERE minute >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
        AND minute < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
        GROUP BY term
        HAVING c >= 5
        UNION ALL
        SELECT 'hashtag' AS kind, term, toUInt32(intDiv((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600) - 1 - toUInt32(hour), 3600) + 1) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.hashtag_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 90000))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
        AND term IN (
            SELECT term
            FROM socialpulse.hashtag_hour
            WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
            AND hour < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            GROUP BY term
            HAVING uniqExactMerge(posts) >= 5
        )
        GROUP BY term, k
        UNION ALL
        SELECT 'mention' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.mention_minute
        WHERE minute >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
        AND minute < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
        GROUP BY term
        HAVING c >= 5
        UNION ALL
        SELECT 'mention' AS kind, term, toUInt32(intDiv((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600) - 1 - toUInt32(hour), 3600) + 1) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.mention_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 90000))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
        AND term IN (
            SELECT term
            FROM socialpulse.mention_hour
            WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
            AND hour < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            GROUP BY term
            HAVING uniqExactMerge(posts) >= 5
        )
        GROUP BY term, k
        UNION ALL
        SELECT 'brand_query' AS kind, term, toUInt32(0) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.topic_minute
        WHERE minute >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 3600))
        AND minute < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
        GROUP BY term
        HAVING c >= 5
        UNION ALL
        SELECT 'brand_query' AS kind, term, toUInt32(intDiv((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600) - 1 - toUInt32(hour), 3600) + 1) AS k, uniqExactMerge(posts) AS c
        FROM socialpulse.topic_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 90000))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
        AND term IN (
            SELECT term
            FROM socialpulse.topic_hour
            WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 3600))
            AND hour < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
            GROUP BY term
            HAVING uniqExactMerge(posts) >= 5
        )
        GROUP BY term, k
    )
    GROUP BY kind, term
)
WHERE current >= 5
ORDER BY z DESC, current DESC, kind, term
LIMIT 20
