-- Share of voice among the tracked brands and competitors (config/topics.yaml), last 24 hours up to
-- the newest data. A post about two brands counts for both; shares add up to 1. Exact under redelivery.
SELECT term, total, round(total / sum_total, 4) AS share, positive, negative,
       round((positive - negative) / total, 3) AS net_sentiment
FROM
(
    WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
    SELECT term, uniqExactMerge(posts) AS total,
           uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive,
           uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative
    FROM socialpulse.topic_minute
    WHERE minute >= toDateTime(at - 86400) AND minute < toDateTime(at)
      AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
    GROUP BY term
) AS per_topic
CROSS JOIN
(
    SELECT sum(c) AS sum_total FROM
    (
        WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
        SELECT uniqExactMerge(posts) AS c
        FROM socialpulse.topic_minute
        WHERE minute >= toDateTime(at - 86400) AND minute < toDateTime(at)
          AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
    )
) AS overall
ORDER BY total DESC, term
