-- Sentiment timeline: posts per hour and per sentiment label for tracked topics, last 24 hours up to
-- the newest data. net_sentiment = (positive - negative) / posts. Exact under redelivery.
-- For entities, hashtags or mentions read entity_minute / hashtag_minute / mention_minute instead.
WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
SELECT toString(toDateTime(intDiv(toUInt32(minute), 3600) * 3600), 'UTC') AS bucket, term,
       uniqExactMerge(posts) AS total,
       uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive,
       uniqExactMergeIf(posts, sentiment_label = 'neutral') AS neutral,
       uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative,
       round((positive - negative) / total, 3) AS net_sentiment
FROM socialpulse.topic_minute
WHERE minute >= toDateTime(at - 86400) AND minute < toDateTime(at)
GROUP BY bucket, term
ORDER BY bucket, term
