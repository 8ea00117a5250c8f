-- Top posts for one brand query by engagement (likes + reposts + replies + quotes), the last 24 hours
-- up to the newest data; replace 'spotify' (or read event_entities / event_hashtags / event_mentions
-- for other kinds of terms). Each post once with its latest counters: argMax(..., enriched_at) picks
-- the version ReplacingMergeTree keeps; only the brand query's posts are read, and the text of the winners.
-- Reference time: the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT toString(any(created_at), 'UTC') AS created, any(network) AS net, argMax(author_handle, enriched_at) AS author, argMax(likes + reposts + replies + quotes, enriched_at) AS engagement, argMax(sentiment_label, enriched_at) AS sentiment, replaceRegexpAll(substringUTF8(argMax(text, enriched_at), 1, 100), '\\s+', ' ') AS text_start, argMax(url, enriched_at) AS link, event_id
FROM socialpulse.events
PREWHERE event_id IN (
    SELECT event_id
    FROM socialpulse.events
    PREWHERE event_id IN (
        SELECT event_id
        FROM socialpulse.event_topics
        WHERE topic = 'spotify'
        AND created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 86400))
        AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
    )
    WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 86400))
    AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
    GROUP BY event_id
    ORDER BY argMax(likes + reposts + replies + quotes, enriched_at) DESC, any(created_at) DESC, event_id
    LIMIT 10
)
WHERE created_at >= toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60 - 86400))
AND created_at < toDateTime(((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60))
GROUP BY event_id
ORDER BY engagement DESC, created DESC, event_id
