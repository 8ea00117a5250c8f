-- Insert deduplication where the server has it (ClickHouse 22.2+; 18.16 skips these statements).
-- Non-replicated MergeTree remembers the last N inserted blocks. The sink names every INSERT with
-- insert_deduplication_token = the batch's Kafka offset ranges + a digest of its keys, and sets
-- deduplicate_blocks_in_dependent_materialized_views, so an INSERT retried after an ambiguous failure
-- (timeout, UNKNOWN_STATUS_OF_INSERT 319, a dropped connection) is stored once, in `events` and in every
-- table its materialized views feed (those need the window too: checked on current ClickHouse by
-- tests/contract). Query results do not depend on it: ReplacingMergeTree(event_id) with FINAL and
-- uniqExact(event_id) states keep counts exact on every server; this saves the duplicate rows.

-- requires: 22.2
ALTER TABLE {db}.events MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.dead_letters MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.alerts MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.event_entities MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.event_hashtags MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.event_mentions MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.event_topics MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.volume_minute MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.entity_minute MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.hashtag_minute MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.mention_minute MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.topic_minute MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.volume_hour MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.entity_hour MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.hashtag_hour MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.mention_hour MODIFY SETTING non_replicated_deduplication_window = 1000;
-- requires: 22.2
ALTER TABLE {db}.topic_hour MODIFY SETTING non_replicated_deduplication_window = 1000;
