-- Sentiment timeline: posts per hour and per sentiment label for brand queries, the last 24 whole hours up
-- to the newest data, from the hourly rollup. net_sentiment = (positive - negative) / posts. Exact under
-- redelivery. For entities, hashtags or mentions read entity_hour / hashtag_hour / mention_hour instead;
-- for the current, incomplete hour or finer buckets read topic_minute (same columns, `minute`).
WITH (SELECT intDiv(toUInt32(max(minute)) + 60, 3600) * 3600 FROM socialpulse.volume_minute) AS b
SELECT toString(hour, 'UTC') AS bucket, term,
       uniqExactMerge(posts) AS total,
       uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive,
       uniqExactMergeIf(posts, sentiment_label = 'neutral') AS neutral,
       uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative,
       round((positive - negative) / total, 3) AS net_sentiment
FROM socialpulse.topic_hour
WHERE hour >= toDateTime(b - 86400) AND hour < toDateTime(b)
GROUP BY bucket, term
ORDER BY bucket, term
