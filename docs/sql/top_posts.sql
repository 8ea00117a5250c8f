-- Top posts for one tracked topic by engagement (likes + reposts + replies + quotes), last 24 hours up to
-- the newest data. events FINAL shows each post once with its latest counters; replace 'spotify'
-- (or read event_entities / event_hashtags / event_mentions for other kinds of terms).
WITH (SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) AS at
SELECT toString(created_at, 'UTC') AS created, network, author_handle,
       likes + reposts + replies + quotes AS engagement, sentiment_label,
       substringUTF8(text, 1, 100) AS text_start, url, event_id
FROM socialpulse.events FINAL
WHERE created_at >= toDateTime(at - 86400) AND created_at < toDateTime(at)
  AND event_id IN (SELECT event_id FROM socialpulse.event_topics WHERE topic = 'spotify'
                   AND created_at >= toDateTime((SELECT toUInt32(max(minute)) + 60 FROM socialpulse.volume_minute) - 86400))
ORDER BY engagement DESC, created_at DESC, event_id
LIMIT 10
