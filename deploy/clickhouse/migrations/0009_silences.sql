-- Silences (maintenance windows): by KPI and scope labels over a time range, with author and reason.
-- One row per version of a silence (created, then possibly expired early); readers take the latest
-- version (FINAL or argMax by version). The alerter decides from the copy in Redis; this is the record.

CREATE TABLE IF NOT EXISTS silences (
  silence_id String,
  kpi_id String,
  scope Map(LowCardinality(String), String),
  starts_at DateTime64(3, 'UTC'),
  ends_at DateTime64(3, 'UTC'),
  author String,
  reason String,
  created_at DateTime64(3, 'UTC'),
  expired_at Nullable(DateTime64(3, 'UTC')),
  expired_by String,
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY silence_id;
