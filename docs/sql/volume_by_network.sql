-- Volume per hour by network (distinct posts and distinct authors), the last 24 whole hours up to the
-- newest data, from the hourly rollup (sets of cityHash64(event_id) / cityHash64(author_id)); the part
-- read from `events` covers the edges of ranges that are not whole hours (none here). Swap network
-- for language or sentiment_label for the other breakdowns. Exact under redelivery.
-- Reference time: the start of the hour in which ends the end of the newest minute with data (replayed samples work too),
-- (SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60: on a live pipeline replace that with toUInt32(now()) or your tool's time macro.
-- Runs on ClickHouse 18.16 and current releases.
-- Generated from streams/trends/queries.py by `make docs-sql`: edit the builders, not this file.
SELECT bucket, network, uniqExactMerge(posts) AS total, uniqExactMerge(authors) AS authors
FROM (
    SELECT toString(toDateTime(intDiv(toUInt32(hour), 3600) * 3600), 'UTC') AS bucket, network AS network, posts, authors
    FROM socialpulse.volume_hour
    WHERE hour >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))
    AND hour < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600))
    UNION ALL
    SELECT toString(toDateTime(intDiv(toUInt32(created_at), 3600) * 3600), 'UTC') AS bucket, network AS network, uniqExactState(cityHash64(event_id)) AS posts, uniqExactState(cityHash64(author_id)) AS authors
    FROM socialpulse.events
    WHERE (created_at >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400)) AND created_at < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600 - 86400))) OR (created_at >= toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600)) AND created_at < toDateTime((intDiv((SELECT toUInt32(max(minute)) FROM socialpulse.volume_minute) + 60, 3600) * 3600)))
    GROUP BY bucket, network
)
GROUP BY bucket, network
ORDER BY bucket, total DESC, network
