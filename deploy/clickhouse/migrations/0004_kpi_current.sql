-- The latest value of every KPI series, kept at insert: what the scorecard and the read API show as
-- "current". Series are written when they change (and aggregates on a heartbeat), so a model evaluated
-- once a month stays current for that month; reading this table costs the number of series, not the
-- length of their history. Readers take argMax by evaluated_at (correct before merges).

CREATE TABLE IF NOT EXISTS kpi_current (
  evaluated_at DateTime64(3, 'UTC'),
  kpi_id LowCardinality(String),
  fingerprint String,
  scope Map(LowCardinality(String), String),
  value Nullable(Float64),
  status LowCardinality(String),
  warning_threshold Nullable(Float64),
  critical_threshold Nullable(Float64)
) ENGINE = ReplacingMergeTree(evaluated_at)
ORDER BY (kpi_id, fingerprint);

CREATE MATERIALIZED VIEW IF NOT EXISTS kpi_current_mv TO kpi_current AS
SELECT evaluated_at, kpi_id, fingerprint, scope, value, status, warning_threshold, critical_threshold
FROM kpi_values;

INSERT INTO kpi_current
SELECT evaluated_at, kpi_id, fingerprint, scope, value, status, warning_threshold, critical_threshold
FROM kpi_values;
