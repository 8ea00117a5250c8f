-- Top posts for one brand query by engagement (likes + reposts + replies + quotes), last 24 hours up to
-- the newest data; replace 'spotify' (or read event_entities / event_hashtags / event_mentions for other
-- kinds of terms). Each post once with its latest counters: argMax(..., enriched_at) picks the version
-- ReplacingMergeTree keeps. Cheaper than `events FINAL`: only the brand query's posts are read, and the text of
-- the 10 winners only.
SELECT toString(any(created_at), 'UTC') AS created, any(network) AS net,
       argMax(author_handle, enriched_at) AS author,
       argMax(likes + reposts + replies + quotes, enriched_at) AS engagement,
       argMax(sentiment_label, enriched_at) AS sentiment,
       substringUTF8(argMax(text, enriched_at), 1, 100) AS text_start, argMax(url, enriched_at) AS link, event_id
FROM socialpulse.events
PREWHERE event_id IN
(
    WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
    SELECT event_id FROM socialpulse.events
    PREWHERE event_id IN
    (
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT event_id FROM socialpulse.event_topics
        WHERE topic = 'spotify' AND created_at >= toDateTime(at - 86400) AND created_at < toDateTime(at)
    )
    WHERE created_at >= toDateTime(at - 86400) AND created_at < toDateTime(at)
    GROUP BY event_id
    ORDER BY argMax(likes + reposts + replies + quotes, enriched_at) DESC, any(created_at) DESC, event_id
    LIMIT 10
)
GROUP BY event_id
ORDER BY engagement DESC, created DESC, event_id
