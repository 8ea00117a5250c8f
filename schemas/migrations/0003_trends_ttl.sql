-- Retention where the server has TTL (ClickHouse 19.6+): flattened per-item rows 180 days, per-minute
-- rollups 2 years. On older servers (18.16 locally) these statements are skipped and
-- `socialpulse retention --days N` drops whole monthly partitions instead.
-- `events` and `dead_letters` (0001) keep no TTL here: raw data retention is the operator's call
-- (`socialpulse retention --days N --tables events,dead_letters`).

-- requires: 19.6
ALTER TABLE {db}.event_entities MODIFY TTL created_at + INTERVAL 180 DAY;
-- requires: 19.6
ALTER TABLE {db}.event_hashtags MODIFY TTL created_at + INTERVAL 180 DAY;
-- requires: 19.6
ALTER TABLE {db}.event_mentions MODIFY TTL created_at + INTERVAL 180 DAY;
-- requires: 19.6
ALTER TABLE {db}.event_topics MODIFY TTL created_at + INTERVAL 180 DAY;
-- requires: 19.6
ALTER TABLE {db}.volume_minute MODIFY TTL minute + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.entity_minute MODIFY TTL minute + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.hashtag_minute MODIFY TTL minute + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.mention_minute MODIFY TTL minute + INTERVAL 730 DAY;
-- requires: 19.6
ALTER TABLE {db}.topic_minute MODIFY TTL minute + INTERVAL 730 DAY;
