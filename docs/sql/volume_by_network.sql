-- Volume per hour by network (distinct posts and distinct authors), last 24 hours up to the newest data.
-- Swap network for language or sentiment_label for the other breakdowns. Exact under redelivery.
WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
SELECT toString(toDateTime(intDiv(toUInt32(minute), 3600) * 3600), 'UTC') AS bucket, network,
       uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors
FROM socialpulse.volume_minute
WHERE minute >= toDateTime(at - 86400) AND minute < toDateTime(at)
GROUP BY bucket, network
ORDER BY bucket, total DESC, network
