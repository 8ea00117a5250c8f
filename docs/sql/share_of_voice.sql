-- Share of voice among the brand and competitor queries (config/brand_queries.yaml), the last 24 whole hours
-- up to the newest data, from the hourly rollup. A post about two brands counts for both; shares add up to 1.
-- Exact under redelivery.
SELECT term, total, round(total / sum_total, 4) AS share, positive, negative,
       round((positive - negative) / total, 3) AS net_sentiment
FROM
(
    WITH (SELECT intDiv(toUInt32(max(minute)) + 60, 3600) * 3600 FROM socialpulse.volume_minute) AS b
    SELECT term, uniqExactMerge(posts) AS total,
           uniqExactMergeIf(posts, sentiment_label = 'positive') AS positive,
           uniqExactMergeIf(posts, sentiment_label = 'negative') AS negative
    FROM socialpulse.topic_hour
    WHERE hour >= toDateTime(b - 86400) AND hour < toDateTime(b)
      AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
    GROUP BY term
) AS per_brand
CROSS JOIN
(
    SELECT sum(c) AS sum_total FROM
    (
        WITH (SELECT intDiv(toUInt32(max(minute)) + 60, 3600) * 3600 FROM socialpulse.volume_minute) AS b
        SELECT uniqExactMerge(posts) AS c
        FROM socialpulse.topic_hour
        WHERE hour >= toDateTime(b - 86400) AND hour < toDateTime(b)
          AND term IN ('spotify', 'apple_music', 'youtube_music', 'deezer', 'tidal', 'amazon_music')
        GROUP BY term
    )
) AS overall
ORDER BY total DESC, term
