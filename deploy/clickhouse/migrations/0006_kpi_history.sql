-- KPI values as of any time, and the definition each value was computed with.
-- kpi_values and breach_transitions record the KPI definition version (shared/kpi/definition-version.ts)
-- they were computed with; rows written before this migration have ''.
-- kpi_history holds values evaluated afterwards for past times (npm run backfill): `axis` says which facts
-- counted — what had happened by `as_of` (event_time) or what was known at `as_of` (ingested_at). A value
-- computed again for the same (axis, series, as_of) replaces the earlier one (version computed_at), so a
-- backfill run twice keeps one row per point. kpi_history_steps records each finished step, written after
-- its values, so an interrupted backfill resumes at the first step not recorded for the same definitions.

ALTER TABLE kpi_values ADD COLUMN IF NOT EXISTS definition_version String DEFAULT '';

ALTER TABLE breach_transitions ADD COLUMN IF NOT EXISTS definition_version String DEFAULT '';

CREATE TABLE IF NOT EXISTS kpi_history (
  axis LowCardinality(String),
  as_of DateTime64(3, 'UTC'),
  kpi_id LowCardinality(String),
  fingerprint String,
  scope Map(LowCardinality(String), String),
  value Nullable(Float64),
  status LowCardinality(String),
  warning_threshold Nullable(Float64),
  critical_threshold Nullable(Float64),
  n Nullable(UInt64),
  ci_low Nullable(Float64),
  ci_high Nullable(Float64),
  reason String,
  definition_version String,
  computed_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (axis, kpi_id, fingerprint, as_of);

CREATE TABLE IF NOT EXISTS kpi_history_steps (
  axis LowCardinality(String),
  as_of DateTime64(3, 'UTC'),
  catalog_version String,
  series UInt32,
  computed_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (axis, as_of);
