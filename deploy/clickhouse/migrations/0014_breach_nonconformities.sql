-- Breach → nonconformity: one row per breach episode that opened a nonconformity (by time or on request),
-- the link from the breach to its audit finding. The finding links back by its `source` (the breach's read
-- API path). Written after the finding is sent, from the claimed finding, so every write of one episode
-- is the same row and ReplacingMergeTree keeps one.

CREATE TABLE IF NOT EXISTS breach_nonconformities (
  breach_id String,
  fingerprint String,
  kpi_id LowCardinality(String),
  scope Map(LowCardinality(String), String),
  finding_id String,
  event_id String,
  standard LowCardinality(String),
  clause LowCardinality(String),
  iso_references Array(String),
  kind LowCardinality(String),
  repeat_of String,
  opened_by LowCardinality(String),
  requested_by String,
  critical_since Nullable(DateTime64(3, 'UTC')),
  raised_at DateTime64(3, 'UTC'),
  due_at DateTime64(3, 'UTC'),
  recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (breach_id);
