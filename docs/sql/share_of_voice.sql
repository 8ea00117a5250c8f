-- Share of voice among the example brands and competitors (config/brand_queries.yaml), the last 24 whole hours
-- up to the newest data, from the hourly rollup. A post about two brands counts for both; shares add
-- up to 1. Exact under redelivery.
-- Reference time: the start of the hour in which ends the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT term, total, round(total / (
    SELECT sum(t)
    FROM (
        SELECT term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
        FROM socialpulse.topic_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))
        AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
        UNION ALL
        SELECT term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
        FROM socialpulse.topic_minute
        WHERE ((minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))) OR (minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))))
        AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
    )
), 4) AS share, positive, negative, round((positive - negative) / total, 3) AS net_sentiment
FROM (
    SELECT term, sum(t) AS total, sum(p) AS positive, sum(n) AS negative
    FROM (
        SELECT term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
        FROM socialpulse.topic_hour
        WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))
        AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))
        AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
        UNION ALL
        SELECT term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
        FROM socialpulse.topic_minute
        WHERE ((minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))) OR (minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))))
        AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
    )
    GROUP BY term
)
ORDER BY total DESC, term
