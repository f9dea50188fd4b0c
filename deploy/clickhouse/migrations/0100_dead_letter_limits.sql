-- Dead letters with explicit limits (issue 11). A payload is kept whole up to
-- COLLECTOR_DEAD_LETTER_STORE_MAX_BYTES and cut beyond it: the row then says how long the original was and
-- what its sha256 is, so the original can still be matched against the producer's copy. Rows written
-- before this migration read value_bytes 0 and an empty value_sha256 (unknown).
-- Payload retention (a column TTL on value_base64 and headers) is applied by the collector at start-up from
-- COLLECTOR_DEAD_LETTER_TTL_DAYS, so changing it needs no new migration.

ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_bytes UInt64 DEFAULT 0 AFTER value_base64;

ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_sha256 String DEFAULT '' AFTER value_bytes;

ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_truncated Bool DEFAULT false AFTER value_sha256;

-- Messages the collector could not write somewhere after bounded retries (the dead-letter topic refused
-- the copy, or ClickHouse refused the row as data) and therefore skipped. Never silent: each also gets
-- an error log line and counts in aims_collector_unwritable_total.
CREATE TABLE IF NOT EXISTS dead_letter_failures (
  failed_at DateTime64(3, 'UTC') DEFAULT now64(3),
  topic String,
  partition UInt32,
  offset UInt64,
  value_bytes UInt64,
  value_sha256 String,
  error_type LowCardinality(String),
  reason String,
  stage LowCardinality(String),
  error String
) ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, stage);
