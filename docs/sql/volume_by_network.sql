-- Volume per hour by network (distinct posts and distinct authors), the last 24 whole hours up to the
-- newest data, from the hourly rollup (sets of cityHash64(event_id) / cityHash64(author_id)). Swap network
-- for language or sentiment_label for the other breakdowns. Exact under redelivery. For ranges that do not
-- start and end on whole hours, streams/trends/queries.py adds the edge minutes (from `events`).
WITH (SELECT intDiv(toUInt32(max(minute)) + 60, 3600) * 3600 FROM socialpulse.volume_minute) AS b
SELECT toString(hour, 'UTC') AS bucket, network,
       uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors
FROM socialpulse.volume_hour
WHERE hour >= toDateTime(b - 86400) AND hour < toDateTime(b)
GROUP BY bucket, network
ORDER BY bucket, total DESC, network
