-- The uncertainty of KPI values: generated from shared/kpi/entity-state.ts (`fairnessMigration`; a unit
-- test checks this file is exactly what it generates). kpi_values and kpi_current gain n, ci_low, ci_high
-- (the sample and confidence interval behind a value) and reason (why a value is not estimable, uncertain
-- or derived; '' otherwise); kpi_current's view is replaced to carry them, the new one created before the
-- old one is dropped (an insert in between is written twice, which ReplacingMergeTree absorbs).

ALTER TABLE kpi_values
  ADD COLUMN IF NOT EXISTS n Nullable(UInt64),
  ADD COLUMN IF NOT EXISTS ci_low Nullable(Float64),
  ADD COLUMN IF NOT EXISTS ci_high Nullable(Float64),
  ADD COLUMN IF NOT EXISTS reason String;

ALTER TABLE kpi_current
  ADD COLUMN IF NOT EXISTS n Nullable(UInt64),
  ADD COLUMN IF NOT EXISTS ci_low Nullable(Float64),
  ADD COLUMN IF NOT EXISTS ci_high Nullable(Float64),
  ADD COLUMN IF NOT EXISTS reason String;

CREATE MATERIALIZED VIEW IF NOT EXISTS kpi_current_v2_mv TO kpi_current AS
SELECT evaluated_at, kpi_id, fingerprint, scope, value, status, warning_threshold, critical_threshold, n, ci_low, ci_high, reason
FROM kpi_values;

DROP VIEW IF EXISTS kpi_current_mv;
