-- Sentiment timeline: posts per hour and sentiment label for the example brands' queries, the last 24
-- whole hours up to the newest data, from the hourly rollup (the per-minute part reads the edges of
-- ranges that are not whole hours: none here). net_sentiment = (positive - negative) / posts. Exact
-- under redelivery. For entities, hashtags or mentions read entity_hour / hashtag_hour / mention_hour.
-- Reference time: the start of the hour in which ends the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT bucket, term, sum(t) AS total, sum(p) AS positive, sum(u) AS neutral, sum(n) AS negative, round((positive - negative) / total, 3) AS net_sentiment
FROM (
    SELECT toString(toDateTime(intDiv(toUInt32(hour), 3600) * 3600), 'UTC') AS bucket, term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
    FROM socialpulse.topic_hour
    WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))
    AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))
    AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
    GROUP BY bucket, term
    UNION ALL
    SELECT toString(toDateTime(intDiv(toUInt32(minute), 3600) * 3600), 'UTC') AS bucket, term, uniqExactMerge(posts) AS t, uniqExactMergeIf(posts, sentiment_label = 'positive') AS p, uniqExactMergeIf(posts, sentiment_label = 'neutral') AS u, uniqExactMergeIf(posts, sentiment_label = 'negative') AS n
    FROM socialpulse.topic_minute
    WHERE ((minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))) OR (minute >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600)) AND minute < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))))
    AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
    GROUP BY bucket, term
)
GROUP BY bucket, term
ORDER BY bucket, term
