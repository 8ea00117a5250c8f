-- Dead letters keep at most a prefix of a large original (schemas/deadletter.py): its whole size and sha256 say
-- what the prefix was cut from, and redrive reads the whole record from the source topic while it is retained.
-- Rows written before this migration read 0 and '' (18.16 has no base64Decode to compute them).
ALTER TABLE {db}.dead_letters
    ADD COLUMN original_size UInt64 DEFAULT 0,
    ADD COLUMN original_sha256 String DEFAULT '';
