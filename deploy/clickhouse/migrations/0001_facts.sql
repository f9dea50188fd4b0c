-- Fact tables: one row per accepted event. Producers and the collector may deliver an event more than
-- once, so each table is a ReplacingMergeTree whose sorting key ends in event_id: duplicates collapse
-- on merge, and every query the product runs is written to be correct before that merge happens
-- (argMax over (event_time, event_id) for the latest state, uniqExact / GROUP BY event_id for counts).

CREATE TABLE IF NOT EXISTS privacy_incident_events (
  event_id String,
  event_time DateTime64(3, 'UTC'),
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  source String,
  incident_id String,
  status LowCardinality(String),
  severity LowCardinality(String),
  category LowCardinality(String),
  business_unit LowCardinality(String),
  occurred_at Nullable(DateTime64(3, 'UTC')),
  detected_at DateTime64(3, 'UTC'),
  contained_at Nullable(DateTime64(3, 'UTC')),
  resolved_at Nullable(DateTime64(3, 'UTC')),
  closed_at Nullable(DateTime64(3, 'UTC')),
  notifiable Bool,
  regulator_notified_at Nullable(DateTime64(3, 'UTC')),
  records_affected UInt64,
  data_subjects_affected UInt64,
  ai_system_id String,
  controls Array(String)
) ENGINE = ReplacingMergeTree
ORDER BY (incident_id, event_id);

CREATE TABLE IF NOT EXISTS model_metric_events (
  event_id String,
  event_time DateTime64(3, 'UTC'),
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  source String,
  model_id String,
  model_version String,
  environment LowCardinality(String),
  business_unit LowCardinality(String),
  baseline_version String,
  window_start DateTime64(3, 'UTC'),
  window_end DateTime64(3, 'UTC'),
  sample_size UInt64,
  metrics Map(LowCardinality(String), Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (model_id, model_version, event_id);

-- One row per (event, protected attribute, group): the confusion counts fairness is computed from.
CREATE TABLE IF NOT EXISTS model_group_counts (
  event_id String,
  event_time DateTime64(3, 'UTC'),
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  model_id String,
  model_version String,
  environment LowCardinality(String),
  attribute LowCardinality(String),
  group_name String,
  tp UInt64,
  fp UInt64,
  tn UInt64,
  fn UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (model_id, model_version, attribute, group_name, event_id);

CREATE TABLE IF NOT EXISTS audit_finding_events (
  event_id String,
  event_time DateTime64(3, 'UTC'),
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  source String,
  finding_id String,
  audit_id String,
  audit_type LowCardinality(String),
  standard LowCardinality(String),
  clause LowCardinality(String),
  kind LowCardinality(String),
  status LowCardinality(String),
  business_unit LowCardinality(String),
  title String,
  owner String,
  raised_at DateTime64(3, 'UTC'),
  due_at Nullable(DateTime64(3, 'UTC')),
  closed_at Nullable(DateTime64(3, 'UTC')),
  repeat_of String
) ENGINE = ReplacingMergeTree
ORDER BY (finding_id, event_id);

-- Rejected messages, for operators; the same reason travels with the message on the dead-letter topic.
CREATE TABLE IF NOT EXISTS dead_letters (
  received_at DateTime64(3, 'UTC') DEFAULT now64(3),
  topic String,
  partition UInt32,
  offset UInt64,
  key Nullable(String),
  value_base64 String,
  headers Map(String, String),
  error_type LowCardinality(String),
  reason String
) ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset);
