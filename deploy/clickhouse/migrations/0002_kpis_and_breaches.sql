-- What the processor writes: every KPI evaluation (the time series behind trends and the scorecard) and
-- every breach transition (the lifecycle behind alerts). The alerter writes its delivery log.

CREATE TABLE IF NOT EXISTS kpi_values (
  evaluated_at DateTime64(3, 'UTC'),
  kpi_id LowCardinality(String),
  fingerprint String,
  scope Map(LowCardinality(String), String),
  value Nullable(Float64),
  status LowCardinality(String),
  warning_threshold Nullable(Float64),
  critical_threshold Nullable(Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (kpi_id, fingerprint, evaluated_at);

-- transition_id is deterministic (fingerprint, breach start, transition), so a replay that re-derives the
-- same transition writes the same key and the table keeps one row.
CREATE TABLE IF NOT EXISTS breach_transitions (
  transition_id String,
  breach_id String,
  fingerprint String,
  kpi_id LowCardinality(String),
  scope Map(LowCardinality(String), String),
  transition LowCardinality(String),
  state LowCardinality(String),
  severity LowCardinality(String),
  previous_severity LowCardinality(String),
  value Nullable(Float64),
  threshold Nullable(Float64),
  started_at DateTime64(3, 'UTC'),
  at DateTime64(3, 'UTC'),
  recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (fingerprint, transition_id);

-- One row per delivery attempt of one alert to one sink: the clause 9.1 evidence that on-call was told.
CREATE TABLE IF NOT EXISTS alert_deliveries (
  attempted_at DateTime64(3, 'UTC'),
  job_id String,
  transition_id String,
  fingerprint String,
  kpi_id LowCardinality(String),
  transition LowCardinality(String),
  sink LowCardinality(String),
  attempt UInt32,
  outcome LowCardinality(String),
  status_code Nullable(UInt16),
  reason String,
  latency_ms Float64
) ENGINE = MergeTree
ORDER BY (fingerprint, attempted_at);
